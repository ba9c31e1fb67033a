// FaultInjectingClient: an ObjectClient that wraps another one and makes chosen calls fail, slow
// down or return a short GET body, for tests of the layers above s3/.
//
//   MemoryObjectClient memory(...);
//   FaultInjectingClient faulty(memory, /*seed=*/42);
//   faulty.AddRule(FaultRule::FailNth(Operation::kPutObject, 2,
//                                     Status::FromServer(ErrorCode::kThrottled, 503, "SlowDown",
//                                                        "Please reduce your request rate.", "tx1")));
//   faulty.AddRule(FaultRule::TruncateGet(1, 4096));  // first GET: 4096 bytes, then kCorrupt
//   ... run the filesystem over `faulty` ...
//   EXPECT_EQ(faulty.CallCount(Operation::kPutObject), 0u);  // "no request was sent"
//
// Rules. Each rule names one Operation, optionally a key prefix, and a window of the calls it
// matches: matching calls are numbered 1, 2, 3... per rule, and the rule is armed for calls
// nth .. nth+times-1 (times == kForever: every call from nth on). An armed call fires with the
// rule's probability, drawn from a std::mt19937_64 seeded at construction (no draw is made when
// the probability is 1). What a fired rule does:
//   kFail           the inner client is not called (nothing is sent); `status` is returned.
//   kFailAfterCall  the inner client is called (the request reaches the server, e.g. a PUT that
//                   was stored but whose response was lost); its result is discarded and `status`
//                   is returned. GET bodies have then reached the sink.
//   kTruncateBody   GET only: the sink receives the first `truncate_after` bytes of the body, then
//                   the transfer is aborted and `status` is returned (default: kCorrupt, as the
//                   real client reports a short body). A body no longer than that is not cut and
//                   the call succeeds.
//   kDelay          nothing fails; the call goes on after `latency`.
// Any rule may also carry `latency`, slept before its action (so FailNth + latency models a slow
// error). When several rules match one call, every one counts the call; delays of all firing rules
// add up, and the first firing rule (in the order added) with another action decides the outcome.
//
// Keys a rule's key_prefix is matched against: the object key of the call; the prefix of
// ListObjects / ListMultipartUploads requests; both source and destination of CopyObject and
// UploadPartCopy; any of the keys of DeleteObjects.
//
// Counters: CallCount(op) counts every call made to this wrapper (failed or not), ForwardedCount(op)
// the calls passed to the inner client, InjectedCount(op) the calls a rule fired on (delays
// included). They are never reset by rule changes; ResetCounts() clears them (not rule windows).
//
// Threading: every method, including AddRule/RemoveRule and the counters, may be called
// concurrently from any number of threads. One mutex guards rules, counters and the RNG; it is never
// held across a call to the inner client, a sleep, the sink or the call hook. The inner client
// must outlive this wrapper.
//
// Errors: only the injected Status values and whatever the inner client returns.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/status.h"
#include "s3/object_client.h"

namespace spacesfs::s3 {

// One value per ObjectClient method that talks to the server (bucket() is not counted).
enum class Operation {
  kHeadObject = 0,
  kGetObject,
  kListObjects,
  kPutObject,
  kCreateMultipartUpload,
  kUploadPart,
  kCompleteMultipartUpload,
  kAbortMultipartUpload,
  kListMultipartUploads,
  kCopyObject,
  kUploadPartCopy,
  kDeleteObject,
  kDeleteObjects,
};
inline constexpr int kOperationCount = 13;

// Stable name of an operation, for test messages: "HeadObject", "GetObject", ...
std::string_view OperationName(Operation op);

enum class FaultAction { kFail, kFailAfterCall, kTruncateBody, kDelay };

struct FaultRule {
  static constexpr uint64_t kForever = std::numeric_limits<uint64_t>::max();

  Operation operation = Operation::kGetObject;
  std::string key_prefix;       // "" matches every call of `operation`
  uint64_t nth = 1;             // first matching call (1-based) the rule is armed for
  uint64_t times = 1;           // how many matching calls from nth on; kForever = no end
  double probability = 1.0;     // chance an armed call fires, in [0, 1]
  FaultAction action = FaultAction::kFail;
  Status status;                // returned by kFail/kFailAfterCall/kTruncateBody; if OK, a
                                // default is used (kServerError 500 InternalError; kCorrupt for
                                // kTruncateBody)
  std::chrono::microseconds latency{0};  // slept before the action
  uint64_t truncate_after = 0;  // kTruncateBody: bytes delivered to the sink before the cut

  // Fails the nth call of op.
  static FaultRule FailNth(Operation op, uint64_t nth, Status status);
  // Fails `times` calls of op starting with the nth.
  static FaultRule FailTimes(Operation op, uint64_t nth, uint64_t times, Status status);
  // Fails every call of op from the nth on.
  static FaultRule FailFrom(Operation op, uint64_t nth, Status status);
  // Fails each call of op with the given probability (seeded RNG).
  static FaultRule FailWithProbability(Operation op, double probability, Status status);
  // Forwards the nth call, then returns status as if the response had been lost.
  static FaultRule FailNthAfterCall(Operation op, uint64_t nth, Status status);
  // Delays every call of op.
  static FaultRule Delay(Operation op, std::chrono::microseconds latency);
  // The nth GET delivers `bytes` bytes and then fails with status (kCorrupt if status is OK).
  static FaultRule TruncateGet(uint64_t nth, uint64_t bytes, Status status = Status());

  // Chainable modifiers.
  FaultRule& ForKeyPrefix(std::string prefix) {
    key_prefix = std::move(prefix);
    return *this;
  }
  FaultRule& WithLatency(std::chrono::microseconds l) {
    latency = l;
    return *this;
  }
  FaultRule& WithProbability(double p) {
    probability = p;
    return *this;
  }
};

// Common injected errors, shaped like what the real client returns.
Status SlowDownStatus();           // kThrottled, 503 SlowDown
Status InternalErrorStatus();      // kServerError, 500 InternalError
Status ConnectionResetStatus();    // kNetwork

class FaultInjectingClient : public ObjectClient {
 public:
  using RuleId = int;
  // Called before every call (after counting it, before any rule acts), outside the lock, with the
  // call's first key (the destination of copies, the first key of DeleteObjects). Tests use
  // it to change the bucket "behind the mount's back" or to block a call at a chosen point.
  using CallHook = std::function<void(Operation op, const std::string& key)>;

  explicit FaultInjectingClient(ObjectClient& inner, uint64_t seed = 1);
  FaultInjectingClient(const FaultInjectingClient&) = delete;
  FaultInjectingClient& operator=(const FaultInjectingClient&) = delete;

  // Adds a rule; returns its id. Its window counts only calls made after it was added.
  RuleId AddRule(FaultRule rule);
  // Removes a rule (unknown ids are ignored).
  void RemoveRule(RuleId id);
  void ClearRules();
  // How many calls a rule fired on (0 for unknown ids).
  uint64_t FiredCount(RuleId id) const;

  void SetCallHook(CallHook hook);

  uint64_t CallCount(Operation op) const;
  uint64_t ForwardedCount(Operation op) const;
  uint64_t InjectedCount(Operation op) const;
  uint64_t TotalCalls() const;  // sum of CallCount over all operations
  void ResetCounts();

  // ObjectClient.
  const std::string& bucket() const override;
  Result<ObjectInfo> HeadObject(const std::string& key) override;
  Result<ObjectInfo> GetObject(const GetObjectRequest& request, const BodySink& sink) override;
  Result<ListObjectsPage> ListObjects(const ListObjectsRequest& request) override;
  Result<std::string> PutObject(const PutObjectRequest& request) override;
  Result<std::string> CreateMultipartUpload(const std::string& key, const UserMetadata& metadata,
                                            const std::string& content_type) override;
  Result<std::string> UploadPart(const std::string& key, const std::string& upload_id,
                                 int part_number, const BodySource& body) override;
  Result<std::string> CompleteMultipartUpload(const std::string& key, const std::string& upload_id,
                                              const std::vector<CompletedPart>& parts) override;
  Status AbortMultipartUpload(const std::string& key, const std::string& upload_id) override;
  Result<ListMultipartUploadsPage> ListMultipartUploads(
      const ListMultipartUploadsRequest& request) override;
  Result<std::string> CopyObject(const CopyObjectRequest& request) override;
  Result<std::string> UploadPartCopy(const UploadPartCopyRequest& request) override;
  Status DeleteObject(const std::string& key) override;
  Result<std::vector<DeleteError>> DeleteObjects(const std::vector<std::string>& keys) override;

 private:
  // What one call must do, decided under the lock.
  struct Decision {
    std::chrono::microseconds latency{0};
    std::optional<FaultAction> action;  // empty: forward normally
    Status status;
    uint64_t truncate_after = 0;
  };
  struct RuleState {
    RuleId id = 0;
    FaultRule rule;
    uint64_t matched = 0;
    uint64_t fired = 0;
  };
  struct Counters {
    uint64_t calls = 0;
    uint64_t forwarded = 0;
    uint64_t injected = 0;
  };

  // Counts the call, runs the hook, applies the rules and sleeps any latency. Returns the decision
  // with latency already spent.
  Decision Begin(Operation op, const std::vector<std::string_view>& keys);
  void CountForwarded(Operation op);

  // Runs a call that returns Result<T> or Status through the decision.
  template <typename R, typename F>
  R Run(Operation op, const std::vector<std::string_view>& keys, F&& call);

  // Constant after construction.
  ObjectClient& inner_;

  // Lock order: mu_ is a leaf; nothing else is taken while holding it.
  mutable std::mutex mu_;
  std::vector<RuleState> rules_;              // guarded by mu_, in the order added
  RuleId next_id_ = 1;                        // guarded by mu_
  std::mt19937_64 rng_;                       // guarded by mu_
  Counters counters_[kOperationCount];        // guarded by mu_
  CallHook hook_;                             // guarded by mu_ (copied out before calling)
};

}  // namespace spacesfs::s3
