#include "s3/fault_injecting_client.h"

#include <cstdio>
#include <cstdlib>
#include <thread>
#include <utility>

namespace spacesfs::s3 {
namespace {

int Index(Operation op) { return static_cast<int>(op); }

bool KeyMatches(const std::string& prefix, const std::vector<std::string_view>& keys) {
  if (prefix.empty()) return true;
  for (std::string_view key : keys) {
    if (key.substr(0, prefix.size()) == prefix) return true;
  }
  return false;
}

[[noreturn]] void BadRule(const char* why) {
  std::fprintf(stderr, "FaultInjectingClient: invalid rule: %s\n", why);
  std::abort();
}

}  // namespace

std::string_view OperationName(Operation op) {
  switch (op) {
    case Operation::kHeadObject: return "HeadObject";
    case Operation::kGetObject: return "GetObject";
    case Operation::kListObjects: return "ListObjects";
    case Operation::kPutObject: return "PutObject";
    case Operation::kCreateMultipartUpload: return "CreateMultipartUpload";
    case Operation::kUploadPart: return "UploadPart";
    case Operation::kCompleteMultipartUpload: return "CompleteMultipartUpload";
    case Operation::kAbortMultipartUpload: return "AbortMultipartUpload";
    case Operation::kListMultipartUploads: return "ListMultipartUploads";
    case Operation::kCopyObject: return "CopyObject";
    case Operation::kUploadPartCopy: return "UploadPartCopy";
    case Operation::kDeleteObject: return "DeleteObject";
    case Operation::kDeleteObjects: return "DeleteObjects";
  }
  return "Unknown";
}

Status SlowDownStatus() {
  return Status::FromServer(ErrorCode::kThrottled, 503, "SlowDown",
                            "Please reduce your request rate. (injected)", "injected");
}

Status InternalErrorStatus() {
  return Status::FromServer(ErrorCode::kServerError, 500, "InternalError",
                            "We encountered an internal error. (injected)", "injected");
}

Status ConnectionResetStatus() {
  return Status(ErrorCode::kNetwork, "connection reset by peer (injected)");
}

FaultRule FaultRule::FailNth(Operation op, uint64_t nth, Status status) {
  return FailTimes(op, nth, 1, std::move(status));
}

FaultRule FaultRule::FailTimes(Operation op, uint64_t nth, uint64_t times, Status status) {
  FaultRule r;
  r.operation = op;
  r.nth = nth;
  r.times = times;
  r.action = FaultAction::kFail;
  r.status = std::move(status);
  return r;
}

FaultRule FaultRule::FailFrom(Operation op, uint64_t nth, Status status) {
  return FailTimes(op, nth, kForever, std::move(status));
}

FaultRule FaultRule::FailWithProbability(Operation op, double probability, Status status) {
  FaultRule r = FailTimes(op, 1, kForever, std::move(status));
  r.probability = probability;
  return r;
}

FaultRule FaultRule::FailNthAfterCall(Operation op, uint64_t nth, Status status) {
  FaultRule r = FailTimes(op, nth, 1, std::move(status));
  r.action = FaultAction::kFailAfterCall;
  return r;
}

FaultRule FaultRule::Delay(Operation op, std::chrono::microseconds latency) {
  FaultRule r;
  r.operation = op;
  r.nth = 1;
  r.times = kForever;
  r.action = FaultAction::kDelay;
  r.latency = latency;
  return r;
}

FaultRule FaultRule::TruncateGet(uint64_t nth, uint64_t bytes, Status status) {
  FaultRule r = FailTimes(Operation::kGetObject, nth, 1, std::move(status));
  r.action = FaultAction::kTruncateBody;
  r.truncate_after = bytes;
  return r;
}

FaultInjectingClient::FaultInjectingClient(ObjectClient& inner, uint64_t seed)
    : inner_(inner), rng_(seed) {}

FaultInjectingClient::RuleId FaultInjectingClient::AddRule(FaultRule rule) {
  if (rule.nth == 0) BadRule("nth is 1-based");
  if (rule.times == 0) BadRule("times must be at least 1");
  if (!(rule.probability >= 0.0 && rule.probability <= 1.0)) BadRule("probability not in [0, 1]");
  if (rule.action == FaultAction::kTruncateBody && rule.operation != Operation::kGetObject) {
    BadRule("kTruncateBody applies to kGetObject only");
  }
  if (rule.status.ok()) {
    rule.status = rule.action == FaultAction::kTruncateBody
                      ? Status(ErrorCode::kCorrupt,
                               "response body shorter than announced: cut after " +
                                   std::to_string(rule.truncate_after) + " bytes (injected)")
                      : InternalErrorStatus();
  }
  std::lock_guard<std::mutex> lock(mu_);
  RuleState state;
  state.id = next_id_++;
  state.rule = std::move(rule);
  rules_.push_back(std::move(state));
  return rules_.back().id;
}

void FaultInjectingClient::RemoveRule(RuleId id) {
  std::lock_guard<std::mutex> lock(mu_);
  std::erase_if(rules_, [id](const RuleState& r) { return r.id == id; });
}

void FaultInjectingClient::ClearRules() {
  std::lock_guard<std::mutex> lock(mu_);
  rules_.clear();
}

uint64_t FaultInjectingClient::FiredCount(RuleId id) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const RuleState& r : rules_) {
    if (r.id == id) return r.fired;
  }
  return 0;
}

void FaultInjectingClient::SetCallHook(CallHook hook) {
  std::lock_guard<std::mutex> lock(mu_);
  hook_ = std::move(hook);
}

uint64_t FaultInjectingClient::CallCount(Operation op) const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_[Index(op)].calls;
}

uint64_t FaultInjectingClient::ForwardedCount(Operation op) const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_[Index(op)].forwarded;
}

uint64_t FaultInjectingClient::InjectedCount(Operation op) const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_[Index(op)].injected;
}

uint64_t FaultInjectingClient::TotalCalls() const {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t total = 0;
  for (const Counters& c : counters_) total += c.calls;
  return total;
}

void FaultInjectingClient::ResetCounts() {
  std::lock_guard<std::mutex> lock(mu_);
  for (Counters& c : counters_) c = Counters();
}

FaultInjectingClient::Decision FaultInjectingClient::Begin(
    Operation op, const std::vector<std::string_view>& keys) {
  Decision d;
  CallHook hook;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Counters& counters = counters_[Index(op)];
    ++counters.calls;
    bool injected = false;
    for (RuleState& rs : rules_) {
      const FaultRule& rule = rs.rule;
      if (rule.operation != op || !KeyMatches(rule.key_prefix, keys)) continue;
      const uint64_t n = ++rs.matched;
      if (n < rule.nth) continue;
      if (rule.times != FaultRule::kForever && n - rule.nth >= rule.times) continue;
      const bool decides = rule.action != FaultAction::kDelay;
      if (decides && d.action.has_value()) continue;  // an earlier rule already decided
      if (rule.probability < 1.0) {
        std::uniform_real_distribution<double> uniform(0.0, 1.0);
        if (uniform(rng_) >= rule.probability) continue;
      }
      ++rs.fired;
      injected = true;
      d.latency += rule.latency;
      if (decides) {
        d.action = rule.action;
        d.status = rule.status;
        d.truncate_after = rule.truncate_after;
      }
    }
    if (injected) ++counters.injected;
    hook = hook_;
  }
  if (hook) hook(op, keys.empty() ? std::string() : std::string(keys.front()));
  if (d.latency.count() > 0) std::this_thread::sleep_for(d.latency);
  return d;
}

void FaultInjectingClient::CountForwarded(Operation op) {
  std::lock_guard<std::mutex> lock(mu_);
  ++counters_[Index(op)].forwarded;
}

template <typename R, typename F>
R FaultInjectingClient::Run(Operation op, const std::vector<std::string_view>& keys, F&& call) {
  Decision d = Begin(op, keys);
  if (d.action == FaultAction::kFail) return d.status;
  CountForwarded(op);
  R result = call();
  if (d.action == FaultAction::kFailAfterCall) return d.status;
  return result;
}

const std::string& FaultInjectingClient::bucket() const { return inner_.bucket(); }

Result<ObjectInfo> FaultInjectingClient::HeadObject(const std::string& key) {
  return Run<Result<ObjectInfo>>(Operation::kHeadObject, {key},
                                 [&] { return inner_.HeadObject(key); });
}

Result<ObjectInfo> FaultInjectingClient::GetObject(const GetObjectRequest& request,
                                                   const BodySink& sink) {
  Decision d = Begin(Operation::kGetObject, {request.key});
  if (d.action == FaultAction::kFail) return d.status;
  CountForwarded(Operation::kGetObject);
  if (d.action != FaultAction::kTruncateBody) {
    Result<ObjectInfo> result = inner_.GetObject(request, sink);
    if (d.action == FaultAction::kFailAfterCall) return d.status;
    return result;
  }
  uint64_t delivered = 0;
  bool cut = false;
  BodySink cutting = [&](std::string_view chunk) -> Status {
    const uint64_t room = d.truncate_after - delivered;
    if (chunk.size() <= room) {
      delivered += chunk.size();
      return sink(chunk);
    }
    if (room > 0) {
      delivered += room;
      SPACESFS_RETURN_IF_ERROR(sink(chunk.substr(0, room)));
    }
    cut = true;
    return Status(ErrorCode::kCancelled, "body cut by fault injection");
  };
  Result<ObjectInfo> result = inner_.GetObject(request, cutting);
  if (cut) return d.status;
  return result;
}

Result<ListObjectsPage> FaultInjectingClient::ListObjects(const ListObjectsRequest& request) {
  return Run<Result<ListObjectsPage>>(Operation::kListObjects, {request.prefix},
                                      [&] { return inner_.ListObjects(request); });
}

Result<std::string> FaultInjectingClient::PutObject(const PutObjectRequest& request) {
  return Run<Result<std::string>>(Operation::kPutObject, {request.key},
                                  [&] { return inner_.PutObject(request); });
}

Result<std::string> FaultInjectingClient::CreateMultipartUpload(const std::string& key,
                                                                const UserMetadata& metadata,
                                                                const std::string& content_type) {
  return Run<Result<std::string>>(Operation::kCreateMultipartUpload, {key}, [&] {
    return inner_.CreateMultipartUpload(key, metadata, content_type);
  });
}

Result<std::string> FaultInjectingClient::UploadPart(const std::string& key,
                                                     const std::string& upload_id, int part_number,
                                                     const BodySource& body) {
  return Run<Result<std::string>>(Operation::kUploadPart, {key}, [&] {
    return inner_.UploadPart(key, upload_id, part_number, body);
  });
}

Result<std::string> FaultInjectingClient::CompleteMultipartUpload(
    const std::string& key, const std::string& upload_id, const std::vector<CompletedPart>& parts) {
  return Run<Result<std::string>>(Operation::kCompleteMultipartUpload, {key}, [&] {
    return inner_.CompleteMultipartUpload(key, upload_id, parts);
  });
}

Status FaultInjectingClient::AbortMultipartUpload(const std::string& key,
                                                  const std::string& upload_id) {
  return Run<Status>(Operation::kAbortMultipartUpload, {key},
                     [&] { return inner_.AbortMultipartUpload(key, upload_id); });
}

Result<ListMultipartUploadsPage> FaultInjectingClient::ListMultipartUploads(
    const ListMultipartUploadsRequest& request) {
  return Run<Result<ListMultipartUploadsPage>>(Operation::kListMultipartUploads, {request.prefix},
                                               [&] { return inner_.ListMultipartUploads(request); });
}

Result<std::string> FaultInjectingClient::CopyObject(const CopyObjectRequest& request) {
  return Run<Result<std::string>>(Operation::kCopyObject,
                                  {request.destination_key, request.source_key},
                                  [&] { return inner_.CopyObject(request); });
}

Result<std::string> FaultInjectingClient::UploadPartCopy(const UploadPartCopyRequest& request) {
  return Run<Result<std::string>>(Operation::kUploadPartCopy,
                                  {request.destination_key, request.source_key},
                                  [&] { return inner_.UploadPartCopy(request); });
}

Status FaultInjectingClient::DeleteObject(const std::string& key) {
  return Run<Status>(Operation::kDeleteObject, {key}, [&] { return inner_.DeleteObject(key); });
}

Result<std::vector<DeleteError>> FaultInjectingClient::DeleteObjects(
    const std::vector<std::string>& keys) {
  std::vector<std::string_view> views(keys.begin(), keys.end());
  return Run<Result<std::vector<DeleteError>>>(Operation::kDeleteObjects, views,
                                               [&] { return inner_.DeleteObjects(keys); });
}

}  // namespace spacesfs::s3
