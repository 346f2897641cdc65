// `zmesh select` and the zmesh dispatcher, run as the real binary (its path comes from the
// ZMESH_BINARY compile definition): output format, the delivery tree, and exit code 2 with
// the parser's message and a hint on bad input.

#include <gtest/gtest.h>

#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <string>
#include <vector>

extern char** environ;

namespace {

struct ProcessResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs the zmesh binary with `args` (no shell involved) and collects its output.
ProcessResult run_zmesh(const std::vector<std::string>& args) {
  ProcessResult run;
  int out_pipe[2];
  int err_pipe[2];
  if (pipe(out_pipe) != 0 || pipe(err_pipe) != 0) {
    ADD_FAILURE() << "pipe failed";
    return run;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, out_pipe[0]);
  posix_spawn_file_actions_addclose(&actions, err_pipe[0]);

  std::vector<std::string> words = {ZMESH_BINARY};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);

  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, ZMESH_BINARY, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (spawned != 0) {
    ADD_FAILURE() << "cannot start " << ZMESH_BINARY;
    close(out_pipe[0]);
    close(err_pipe[0]);
    return run;
  }
  // Drain both pipes together so that neither can fill up and stall the child.
  std::array<pollfd, 2> fds = {pollfd{out_pipe[0], POLLIN, 0}, pollfd{err_pipe[0], POLLIN, 0}};
  std::array<std::string*, 2> sinks = {&run.out, &run.err};
  std::size_t open_pipes = 2;
  while (open_pipes > 0) {
    if (poll(fds.data(), fds.size(), 10000) <= 0) {
      ADD_FAILURE() << "zmesh produced no output for 10 s";
      break;
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[4096];
      const ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<std::size_t>(n));
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_pipes;
      }
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return run;
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(SelectCommandTest, PrintsEachChosenRankWithItsPoint) {
  const ProcessResult run = run_zmesh({"select", "--shape", "{host=4,gpu=8}", "1:3,1"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "rank 9: host=1/4,gpu=1/8\nrank 17: host=2/4,gpu=1/8\n");
  EXPECT_EQ(run.err, "");
}

TEST(SelectCommandTest, PrintsTheDeliveryTree) {
  const ProcessResult run =
      run_zmesh({"select", "--shape", "{host=4,gpu=8}", "--fanout", "4", "--tree", "*"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(has(run.out, "rank 31: host=3/4,gpu=7/8\n")) << run.out;
  EXPECT_TRUE(has(run.out, "delivery tree (fan-out 4, depth 3):\n")) << run.out;
  EXPECT_TRUE(has(run.out, "\nclient -> 0 8 16 24\n")) << run.out;
  EXPECT_TRUE(has(run.out, "\n0 -> 1 3 5 7\n")) << run.out;
  EXPECT_TRUE(has(run.out, "\n29 -> 30\n")) << run.out;
  EXPECT_FALSE(has(run.out, "\n31 ->")) << "leaves have no line";
}

TEST(SelectCommandTest, ViewsPrintBaseRanksAndViewPoints) {
  const ProcessResult run = run_zmesh({"select", "-s", "{host=2,gpu=4}@9[8,2]", "--tree", "1,2:"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out,
            "rank 21: host=1/2,gpu=2/4\nrank 23: host=1/2,gpu=3/4\n"
            "delivery tree (fan-out 16, depth 1):\nclient -> 21 23\n");
}

TEST(SelectCommandTest, SeedSteersAnyOne) {
  const std::vector<std::string> args = {"select", "--shape", "{host=2,gpu=8}",
                                         "--seed", "7",       "*,?"};
  const ProcessResult first = run_zmesh(args);
  EXPECT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(run_zmesh(args).out, first.out);
  std::size_t lines = 0;
  for (char c : first.out) lines += c == '\n';
  EXPECT_EQ(lines, 2u) << first.out;
}

TEST(SelectCommandTest, EmptySelectionSaysSo) {
  const ProcessResult run = run_zmesh({"select", "--shape", "{host=2}", "false"});
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.out, "");
  EXPECT_TRUE(has(run.err, "chooses no ranks")) << run.err;
}

TEST(SelectCommandTest, BadInputExitsWithTwoAndTheParserMessage) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
    std::string hint;
  };
  const Case cases[] = {
      {{"select", "--shape", "{host=4,gpu=8}", "*,0:x"},
       "zmesh select: parse error at column 5 in \"*,0:x\": expected a number, found 'x'\n",
       "hint: selections look like"},
      {{"select", "--shape", "{host=2,gpu=8}", "*,0:9"},
       "zmesh select: selection \"*,0:9\" does not fit {host=2,gpu=8}: gpu has 8 indices",
       "hint: selections look like"},
      {{"select", "--shape", "{host=2,gpu=0}", "*"},
       "\"gpu\" has size 0",
       "hint: shapes look like"},
      {{"select", "--shape", "{host=2", "*"}, "parse error at column 8", "hint: shapes look like"},
      {{"select", "*"}, "--shape is required", "hint: shapes look like"},
      {{"select", "--shape", "{host=2}"},
       "a SELECTION argument is required",
       "hint: selections look like"},
      {{"select", "--shape", "{host=2}", "*", "0"},
       "expected one SELECTION argument",
       "hint: quote the selection"},
      {{"select", "--shape", "{host=2}", "--fanout", "x", "*"},
       "'--fanout' is invalid",
       "hint: run 'zmesh help select'"},
      {{"select", "--shape", "{host=2}", "--fanout", "0", "*"},
       "--fanout 0 is invalid",
       "hint: leave --fanout out"},
      {{"select", "--bogus", "*"},
       "unrecognised option '--bogus'",
       "hint: run 'zmesh help select'"},
  };
  for (const Case& c : cases) {
    const ProcessResult run = run_zmesh(c.args);
    const std::string words = c.args.back();
    EXPECT_EQ(run.exit_code, 2) << words;
    EXPECT_EQ(run.out, "") << words;
    EXPECT_TRUE(has(run.err, c.message)) << words << ": " << run.err;
    EXPECT_TRUE(has(run.err, c.hint)) << words << ": " << run.err;
  }
}

TEST(ZmeshCommandTest, HelpListsTheCommands) {
  const ProcessResult run = run_zmesh({"help"});
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_TRUE(has(run.out, "usage: zmesh COMMAND")) << run.out;
  EXPECT_TRUE(has(run.out, "\n  select ")) << run.out;

  const ProcessResult select_help = run_zmesh({"help", "select"});
  EXPECT_EQ(select_help.exit_code, 0);
  EXPECT_TRUE(has(select_help.out, "usage: zmesh select --shape SHAPE")) << select_help.out;
  EXPECT_TRUE(has(select_help.out, "--fanout")) << select_help.out;
  EXPECT_EQ(run_zmesh({"select", "--help"}).out, select_help.out);
}

TEST(ZmeshCommandTest, UnknownOrMissingCommandExitsWithTwo) {
  const ProcessResult unknown = run_zmesh({"frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_TRUE(has(unknown.err, "unknown command 'frobnicate'")) << unknown.err;
  EXPECT_TRUE(has(unknown.err, "zmesh help")) << unknown.err;

  const ProcessResult none = run_zmesh({});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_TRUE(has(none.err, "usage: zmesh COMMAND")) << none.err;

  EXPECT_EQ(run_zmesh({"help", "frobnicate"}).exit_code, 2);
}

}  // namespace
