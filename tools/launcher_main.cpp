// zmesh-launcher: the per-node daemon that starts, watches and reaps procs for remote
// clients (RemoteAllocator). One per node; see docs/launcher.md.
//   zmesh-launcher (--key FILE | --insecure) [--listen tcp://HOST:PORT] [--advertise HOST]
//                  [--proc-ports A-B] [--max-procs N] [--foreground]
// Prints "zmesh-launcher listening on tcp://HOST:PORT" on stdout once it serves. Exits 0
// after SIGTERM/SIGINT (having stopped every proc it started), 1 when it cannot start
// (e.g. the port is busy), 2 on bad options.
#include "launcher/launcher_server.hpp"

#include <boost/program_options.hpp>
#include <fmt/format.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

namespace po = boost::program_options;

int main(int argc, char** argv) {
  po::options_description described("zmesh-launcher: starts procs for zmesh clients on this node");
  std::string listen, advertise, proc_ports, key_file;
  std::uint32_t max_procs = 4096;
  described.add_options()
      ("help,h", "this help")
      ("listen", po::value(&listen)->default_value("tcp://0.0.0.0:26600"),
       "where clients connect: tcp://HOST:PORT (port 26600 when left out)")
      ("advertise", po::value(&advertise),
       "the address clients and procs use for this node (default: the listen host, or this "
       "host name's address when listening on every interface); procs bind their endpoints there")
      ("proc-ports", po::value(&proc_ports), "restrict the tcp ports procs bind to A-B")
      ("max-procs", po::value(&max_procs)->default_value(4096), "most procs one client may ask for")
      ("key", po::value(&key_file),
       "the cluster's CURVE key file (`zmesh keygen FILE`; default: $ZMESH_KEY_FILE); clients "
       "and procs without it are refused")
      ("insecure", "plain tcp without keys, for trusted networks only (also ZMESH_INSECURE=1)")
      ("foreground", "stay in the foreground and log to stderr (the only mode in this version)");
  po::variables_map values;
  try {
    po::store(po::parse_command_line(argc, argv, described), values);
    po::notify(values);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "zmesh-launcher: %s (see --help)\n", e.what());
    return 2;
  }
  if (values.count("help")) {
    std::cout << described << "\n";
    return 0;
  }
  zmesh::launcher::LauncherOptions options;
  options.listen = listen;
  options.advertise = advertise;
  options.max_procs = max_procs;
  if (!proc_ports.empty()) {
    auto range = zmesh::launcher::parse_port_range(proc_ports);
    if (!range) {
      std::fprintf(stderr, "zmesh-launcher: --proc-ports: %s\n", range.error().message.c_str());
      return 2;
    }
    options.proc_ports = *range;
  }
  if (auto parsed = zmesh::launcher::parse_listen_address(listen); !parsed) {
    std::fprintf(stderr, "zmesh-launcher: --listen: %s\n", parsed.error().message.c_str());
    return 2;
  }
  auto config = zmesh::Config::from_environment();
  if (!config) {
    std::fprintf(stderr, "zmesh-launcher: %s\n", config.error().describe().c_str());
    return 2;
  }
  if (!key_file.empty()) {
    if (auto used = config->use_key_file(key_file); !used) {
      std::fprintf(stderr, "zmesh-launcher: --key: %s\n", used.error().message.c_str());
      return 2;
    }
  }
  if (values.count("insecure")) {
    if (!key_file.empty()) {
      std::fprintf(stderr, "zmesh-launcher: give either --key or --insecure, not both\n");
      return 2;
    }
    config->curve = {};
    config->insecure = true;
  }
  if (config->curve.empty() && !config->insecure) {
    std::fprintf(stderr,
                 "zmesh-launcher: no key: run `zmesh keygen FILE` once, copy FILE to every host "
                 "and start with --key FILE (or set ZMESH_KEY_FILE); --insecure allows plain tcp "
                 "on a trusted network\n");
    return 2;
  }
  // Signals arrive through a signalfd; every thread started from here on has them blocked.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  const int signal_fd = ::signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signal_fd < 0) {
    std::perror("zmesh-launcher: signalfd");
    return 1;
  }
  try {
    zmesh::launcher::LauncherServer server(options, *config);
    std::printf("zmesh-launcher listening on %s (procs bind %s, ports %s, %s)\n",
                server.address().c_str(), server.advertise().c_str(),
                proc_ports.empty() ? "any" : proc_ports.c_str(),
                config->insecure ? "plain tcp: --insecure" : "CURVE");
    std::fflush(stdout);
    server.run(signal_fd);
  } catch (const zmesh::Exception& e) {
    std::fprintf(stderr, "%s\n", e.error().message.c_str());
    ::close(signal_fd);
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "zmesh-launcher: %s\n", e.what());
    ::close(signal_fd);
    return 1;
  }
  ::close(signal_fd);
  return 0;
}
