// Runs the fault proxy's own test suite (tests/tools/test_fault_proxy.py) under CTest, label unit.
// The suite starts a local upstream HTTP server and the proxy on 127.0.0.1; no radosgw is needed.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace {

TEST(FaultProxyTest, PythonSuitePasses) {
  const std::string python = "/usr/bin/python3";
  const std::string suite = std::string(SPACESFS_SOURCE_DIR) + "/tests/tools/test_fault_proxy.py";
  ASSERT_EQ(access(python.c_str(), X_OK), 0) << python << " is not executable";
  ASSERT_EQ(access(suite.c_str(), R_OK), 0) << suite << " is missing";
  const std::string command = python + " '" + suite + "' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr) << "cannot run " << command;
  std::string output;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
  const int status = pclose(pipe);
  ASSERT_TRUE(WIFEXITED(status)) << command << " did not exit normally\n" << output;
  EXPECT_EQ(WEXITSTATUS(status), 0) << command << " failed:\n" << output;
}

}  // namespace
