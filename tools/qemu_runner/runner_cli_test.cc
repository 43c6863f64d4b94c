// The runner binary's command-line handling, as a user meets it.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace {

struct Outcome {
  int exit_code;
  std::string output;
};

Outcome Runner(const std::string& args) {
  std::string cmd = "tools/qemu_runner/qemu_runner " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 512> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST(RunnerCli, UnknownOptionListsTheValidOnes) {
  Outcome r = Runner("--image=/proc/self/exe --smpp=4");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("unknown option --smpp"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--smp N"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--gic 2|3"), std::string::npos) << r.output;
}

TEST(RunnerCli, HelpPrintsTheOptionsAndSucceeds) {
  for (const char* h : {"--help", "-h"}) {
    Outcome r = Runner(h);
    EXPECT_EQ(r.exit_code, 0) << h << ": " << r.output;
    EXPECT_NE(r.output.find("--smp N"), std::string::npos) << h << ": " << r.output;
    EXPECT_NE(r.output.find("keel runs at most 8"), std::string::npos) << h << ": " << r.output;
  }
}

TEST(RunnerCli, AMissingValueIsNamedWithTheList) {
  for (const char* args : {"--image=/proc/self/exe --smp", "--image=/proc/self/exe --cpu --el2"}) {
    Outcome r = Runner(args);
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.output;
    EXPECT_NE(r.output.find("needs a value"), std::string::npos) << args << ": " << r.output;
    EXPECT_NE(r.output.find("--gic 2|3"), std::string::npos) << args << ": " << r.output;
  }
}

TEST(RunnerCli, AnInputRuleWithAnEmptyPartIsRefused) {
  for (const char* rule : {"'--input_on=ready&&|x'", "'--input_on=&&ready|x'", "'--input_on=ready'"}) {
    Outcome r = Runner(std::string("--image=/proc/self/exe ") + rule);
    EXPECT_EQ(r.exit_code, 2) << rule << ": " << r.output;
    EXPECT_NE(r.output.find("--input_on takes SUBSTRING|TEXT"), std::string::npos) << rule << ": " << r.output;
  }
}

TEST(RunnerCli, BadValueIsExplained) {
  Outcome r = Runner("--image=/proc/self/exe --cpu=pentium");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--cpu pentium is not one of"), std::string::npos) << r.output;
}

TEST(RunnerCli, DryRunPrintsTheQemuCommand) {
  Outcome r = Runner("--image=/proc/self/exe --smp=2 --el2 --gic=3 --dry_run");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("-M virt,virtualization=on,gic-version=3"), std::string::npos) << r.output;
}

TEST(RunnerCli, DebugDryRunUsesAGdbStub) {
  Outcome r = Runner("--image=/proc/self/exe --gdb --dry_run");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("-S -gdb tcp:127.0.0.1:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("-serial file:/tmp/keel-console-"), std::string::npos) << r.output;
}

TEST(RunnerCli, BadExpectRegex) {
  Outcome r = Runner("--image=/proc/self/exe --expect='(unclosed'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("bad --expect regex"), std::string::npos) << r.output;
}

}  // namespace
