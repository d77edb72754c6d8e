// The local rank launcher (see launcher.h): torchrun's worker environment, fork/exec of every local
// rank, signal forwarding and the fail-fast policy of torch.distributed.elastic (a failing worker
// fails the group; the others get SIGTERM, then SIGKILL; the failure with the earliest error-file
// time is reported as the cause).
#include "pgolf/dist/launcher.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "pgolf/core/error.h"
#include "pgolf/dist/error_file.h"

extern char** environ;

namespace pgolf::dist {
namespace {

using Clock = std::chrono::steady_clock;

volatile std::sig_atomic_t g_pending = 0;  // last signal received and not yet forwarded

void on_signal(int sig) { g_pending = sig; }

constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP};

// Installs the forwarding handlers for the lifetime of one launch and restores the old ones.
class SignalScope {
 public:
  SignalScope() {
    g_pending = 0;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < std::size(kForwarded); ++i) sigaction(kForwarded[i], &sa, &old_[i]);
  }
  ~SignalScope() {
    for (size_t i = 0; i < std::size(kForwarded); ++i) sigaction(kForwarded[i], &old_[i], nullptr);
  }
  SignalScope(const SignalScope&) = delete;
  SignalScope& operator=(const SignalScope&) = delete;

 private:
  struct sigaction old_[std::size(kForwarded)] {};
};

int take_pending_signal() {
  const int sig = g_pending;
  if (sig != 0) g_pending = 0;
  return sig;
}

struct Child {
  pid_t pid = -1;
  int local_rank = 0;
  int rank = 0;
  bool alive = false;
  int code = -1;
  int pidfd = -1;         // readable once the process exits
  int64_t exit_ns = 0;    // wall clock when it was reaped
  std::string error_file;  // TORCHELASTIC_ERROR_FILE of this rank
};

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// execve's arguments, built before fork so the child only makes async-signal-safe calls.
struct ExecImage {
  std::vector<std::string> argv_strings, env_strings;
  std::vector<char*> argv, envp;
  std::string exec_error;
};

ExecImage exec_image(const std::vector<std::string>& argv,
                     const std::map<std::string, std::string>& vars) {
  ExecImage im;
  im.argv_strings = argv;
  // Inherited variables, minus the ones we set and the elastic agent's (we serve no agent store).
  for (char** e = environ; *e; ++e) {
    const std::string kv(*e);
    const std::string key = kv.substr(0, kv.find('='));
    if (vars.count(key) || key.rfind("TORCHELASTIC_", 0) == 0) continue;
    im.env_strings.push_back(kv);
  }
  for (const auto& [k, v] : vars) im.env_strings.push_back(k + "=" + v);
  for (auto& s : im.argv_strings) im.argv.push_back(s.data());
  im.argv.push_back(nullptr);
  for (auto& s : im.env_strings) im.envp.push_back(s.data());
  im.envp.push_back(nullptr);
  im.exec_error = "pgolf launch: cannot execute " + argv[0] + "\n";
  return im;
}

// The forwarded signals are blocked across fork: a child inherits the launcher's handler, so a
// SIGTERM arriving between fork and execve (a peer failed at once) would run that copy and be
// lost, and the rank would live until SIGKILL. The child resets them to the default, then unblocks
// them: a signal sent before execve is delivered then and ends the child with its default action.
pid_t spawn(ExecImage& im, pid_t parent) {
  sigset_t forwarded, old_mask;
  sigemptyset(&forwarded);
  for (int sig : kForwarded) sigaddset(&forwarded, sig);
  ::pthread_sigmask(SIG_BLOCK, &forwarded, &old_mask);
  const pid_t pid = ::fork();
  if (pid == 0) {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int sig : kForwarded) ::sigaction(sig, &dfl, nullptr);
    ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    ::setpgid(0, 0);  // terminal signals reach the launcher only; it forwards them once
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // no orphaned ranks if the launcher dies
    if (::getppid() != parent) ::_exit(128 + SIGKILL);
    ::execve(im.argv[0], im.argv.data(), im.envp.data());
    const ssize_t ignored = ::write(2, im.exec_error.data(), im.exec_error.size());
    (void)ignored;
    ::_exit(127);
  }
  const int fork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  PGOLF_CHECK(pid >= 0, "launch: fork failed: " << std::strerror(fork_errno));
  return pid;
}

// A descriptor that becomes readable when `pid` exits (-1 when the kernel lacks pidfd_open).
int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  return -1;
#endif
}

// Sleeps until a rank may have exited, a signal arrived or `max_ms` passed (with pidfds the wake-up
// follows an exit within microseconds; otherwise the ranks are polled every 2 ms).
void wait_for_event(const std::vector<int>& pidfds, int max_ms) {
  std::vector<pollfd> fds;
  for (int fd : pidfds)
    if (fd >= 0) fds.push_back({fd, POLLIN, 0});
  if (fds.size() != pidfds.size()) max_ms = std::min(max_ms, 2);  // some ranks are polled
  ::poll(fds.data(), fds.size(), max_ms);  // EINTR (a signal) just returns early
}

int encode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

void signal_alive(std::vector<Child>& children, int sig) {
  for (auto& c : children)
    if (c.alive) ::kill(c.pid, sig);
}

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

// `name` itself when it holds a '/', else the first executable PATH entry of that name (as execvp
// would pick, but before fork, so a missing program is an error here and not 127 per rank).
std::string find_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const std::string dir = end > start ? dirs.substr(start, end - start) : ".";
    const std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return name;
}

}  // namespace

LaunchOptions resolved_launch_options(LaunchOptions o) {
  PGOLF_CHECK_INPUT(o.nproc_per_node >= 1 && o.nproc_per_node <= 1024,
                    "--nproc-per-node: expected 1..1024, found " << o.nproc_per_node);
  PGOLF_CHECK_INPUT(o.nnodes >= 1, "--nnodes: expected >= 1, found " << o.nnodes);
  PGOLF_CHECK_INPUT(o.node_rank >= 0 && o.node_rank < o.nnodes,
                    "--node-rank: expected 0.." << o.nnodes - 1 << " for --nnodes " << o.nnodes
                                                << ", found " << o.node_rank);
  PGOLF_CHECK_INPUT(o.master_port >= 0 && o.master_port <= 65535,
                    "--master-port: expected 0..65535, found " << o.master_port);
  PGOLF_CHECK_INPUT(o.grace_seconds >= 0,
                    "--grace-seconds: expected >= 0, found " << o.grace_seconds);
  if (o.nnodes > 1) {
    PGOLF_CHECK_INPUT(!o.master_addr.empty(),
                      "--master-addr: required with --nnodes " << o.nnodes
                                                               << " (the host of node rank 0)");
    if (o.master_port == 0) o.master_port = 29500;  // every node must agree without talking
  } else {
    if (o.master_addr.empty()) o.master_addr = "127.0.0.1";
    if (o.master_port == 0) o.master_port = free_tcp_port();
  }
  return o;
}

std::map<std::string, std::string> rank_environment(const LaunchOptions& o, int local_rank) {
  return {{"RANK", std::to_string(o.node_rank * o.nproc_per_node + local_rank)},
          {"WORLD_SIZE", std::to_string(o.nnodes * o.nproc_per_node)},
          {"LOCAL_RANK", std::to_string(local_rank)},
          {"LOCAL_WORLD_SIZE", std::to_string(o.nproc_per_node)},
          {"GROUP_RANK", std::to_string(o.node_rank)},
          {"MASTER_ADDR", o.master_addr},
          {"MASTER_PORT", std::to_string(o.master_port)}};
}

int free_tcp_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  PGOLF_CHECK(fd >= 0, "launch: socket() failed: " << std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  socklen_t len = sizeof(addr);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  PGOLF_CHECK(ok, "launch: could not find a free TCP port: " << std::strerror(errno)
                  << "; pass --master-port");
  return ntohs(addr.sin_port);
}

std::string describe_exit(int code) {
  if (code > 128 && code < 128 + 65)
    return "exit code " + std::to_string(code) + " (" + signal_name(code - 128) + ")";
  return "exit code " + std::to_string(code);
}

namespace {

// The launcher's state while its ranks run: who is alive, the first failure, the kill deadline.
class Supervisor {
 public:
  Supervisor(const LaunchOptions& o, std::ostream& log) : o_(o), log_(log) {}

  ~Supervisor() {
    std::error_code ignored;
    if (!error_dir_.empty()) std::filesystem::remove_all(error_dir_, ignored);
  }

  void start(const std::vector<std::string>& argv) {
    make_error_dir();
    const pid_t self = ::getpid();
    for (int lr = 0; lr < o_.nproc_per_node; ++lr) {
      Child c;
      c.local_rank = lr;
      c.rank = o_.node_rank * o_.nproc_per_node + lr;
      c.error_file = error_dir_ + "/rank" + std::to_string(c.rank) + ".json";
      auto vars = rank_environment(o_, lr);
      vars["TORCHELASTIC_ERROR_FILE"] = c.error_file;
      ExecImage im = exec_image(argv, vars);
      try {
        c.pid = spawn(im, self);
      } catch (...) {
        signal_alive(children_, SIGKILL);
        for (auto& started : children_) {
          ::waitpid(started.pid, nullptr, 0);
          if (started.pidfd >= 0) ::close(started.pidfd);
        }
        throw;
      }
      c.alive = true;
      c.pidfd = open_pidfd(c.pid);
      children_.push_back(c);
    }
    alive_ = children_.size();
    res_.exit_codes.assign(children_.size(), -1);
    log_ << "pgolf launch: started " << o_.nproc_per_node << " rank(s) of "
         << o_.nnodes * o_.nproc_per_node << ", MASTER_ADDR=" << o_.master_addr
         << " MASTER_PORT=" << o_.master_port << std::endl;
  }

  LaunchResult run() {
    while (alive_ > 0) {
      forward_pending_signal();
      reap();
      if (alive_ > 0 && Clock::now() >= kill_at_) {
        log_ << "pgolf launch: " << alive_ << " rank(s) still running after " << o_.grace_seconds
             << " s; sending SIGKILL" << std::endl;
        signal_alive(children_, SIGKILL);
        kill_at_ = Clock::time_point::max();
      }
      if (alive_ > 0) {
        std::vector<int> fds;
        for (const auto& c : children_)
          if (c.alive) fds.push_back(c.pidfd);
        wait_for_event(fds, /*max_ms=*/50);
      }
    }
    report_first_failure();
    return res_;
  }

 private:
  void forward_pending_signal() {
    const int sig = take_pending_signal();
    if (sig == 0) return;
    log_ << "pgolf launch: forwarding " << signal_name(sig) << " to " << alive_ << " rank(s)"
         << std::endl;
    signal_alive(children_, sig);
    forwarded_ = true;
  }

  // Collects exited ranks; the first non-zero exit fails the run and stops the others.
  void reap() {
    for (auto& c : children_) {
      int status = 0;
      if (!c.alive || ::waitpid(c.pid, &status, WNOHANG) != c.pid) continue;
      c.alive = false;
      --alive_;
      if (c.pidfd >= 0) ::close(c.pidfd);
      c.pidfd = -1;
      c.code = encode_status(status);
      c.exit_ns = now_ns();
      res_.exit_codes[c.local_rank] = c.code;
      if (c.code == 0) continue;
      log_ << "pgolf launch: rank " << c.rank << " (local rank " << c.local_rank << ", pid "
           << c.pid << ") exited with " << describe_exit(c.code) << std::endl;
      if (stopping_ || alive_ == 0) continue;
      stopping_ = true;
      if (!forwarded_) {  // after a forwarded signal the ranks are stopping by themselves
        log_ << "pgolf launch: stopping the other " << alive_
             << " rank(s) (SIGTERM, SIGKILL after " << o_.grace_seconds << " s)" << std::endl;
        signal_alive(children_, SIGTERM);
      }
      kill_at_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(o_.grace_seconds));
    }
  }

  void make_error_dir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/pgolf_launch_XXXXXX";
    PGOLF_CHECK(::mkdtemp(pattern.data()) != nullptr,
                "launch: cannot create " << pattern << ": " << std::strerror(errno));
    error_dir_ = pattern;
  }

  // The cause of the run's end: among the failed ranks, the earliest failure time, read from its
  // error file (a crash or a signal leaves none: then the time it was reaped).
  void report_first_failure() {
    const Child* first = nullptr;
    int64_t first_ns = 0;
    std::string message;
    for (const auto& c : children_) {
      if (c.code == 0) continue;
      const auto err = read_error_file(c.error_file);
      const int64_t t = err && err->time_ns > 0 ? err->time_ns : c.exit_ns;
      if (first && t >= first_ns) continue;
      first = &c;
      first_ns = t;
      message = err ? err->message : "";
    }
    if (!first) return;
    res_.failed_rank = first->rank;
    res_.exit_code = first->code;
    log_ << "pgolf launch: " << (forwarded_ ? "run stopped by a signal" : "run failed")
         << "; first failure: rank " << first->rank << " (local rank "
         << first->local_rank << ", pid " << first->pid << ") with " << describe_exit(first->code)
         << (message.empty() ? std::string(", no error message") : ": " + message) << std::endl;
  }

  const LaunchOptions& o_;
  std::ostream& log_;
  std::string error_dir_;
  std::vector<Child> children_;
  size_t alive_ = 0;
  bool forwarded_ = false;
  bool stopping_ = false;  // the others were told to stop after a failure
  Clock::time_point kill_at_ = Clock::time_point::max();
  LaunchResult res_;
};

}  // namespace

LaunchResult launch_ranks(const LaunchOptions& o, std::vector<std::string> argv,
                          std::ostream& log) {
  PGOLF_CHECK_INPUT(!argv.empty() && !argv[0].empty(), "launch: no command to run");
  argv[0] = find_program(argv[0]);
  PGOLF_CHECK_INPUT(::access(argv[0].c_str(), X_OK) == 0,
                    "launch: " << argv[0] << " is not an executable file (nor found on PATH)");
  SignalScope signals;
  Supervisor sup(o, log);
  sup.start(argv);
  return sup.run();
}

}  // namespace pgolf::dist
