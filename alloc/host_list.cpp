#include "zmesh/alloc/host_list.hpp"

#include <unistd.h>

#include "zmesh/core/internal/unique_fd.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace zmesh {
namespace {

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

Error nodelist_error(std::string_view nodelist, std::size_t at, std::string_view expected) {
  return Error(ErrorCode::parse_error,
               fmt::format("Slurm node list \"{}\" at position {}: expected {}", nodelist, at, expected));
}

// One bracket body "1-3,07,10-12" -> the numbers as text, padded like their range start.
Result<std::vector<std::string>> expand_ranges(std::string_view nodelist, std::size_t offset,
                                               std::string_view body, std::size_t limit) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i <= body.size()) {
    const std::size_t start = i;
    while (i < body.size() && is_digit(body[i])) ++i;
    if (i == start) return nodelist_error(nodelist, offset + i, "a number");
    const std::string_view first = body.substr(start, i - start);
    std::string_view last = first;
    if (i < body.size() && body[i] == '-') {
      const std::size_t second = ++i;
      while (i < body.size() && is_digit(body[i])) ++i;
      if (i == second) return nodelist_error(nodelist, offset + i, "a number after '-'");
      last = body.substr(second, i - second);
    }
    if (first.size() > 9 || last.size() > 9) return nodelist_error(nodelist, offset + start, "a number below 10^9");
    const long low = std::stol(std::string(first));
    const long high = std::stol(std::string(last));
    if (high < low) return nodelist_error(nodelist, offset + start, fmt::format("an ascending range, not {}-{}", first, last));
    const std::size_t width = first.size();
    for (long n = low; n <= high; ++n) {
      if (out.size() >= limit) return nodelist_error(nodelist, offset + start, fmt::format("at most {} names", limit));
      out.push_back(fmt::format("{:0{}}", n, width));
    }
    if (i == body.size()) break;
    if (body[i] != ',') return nodelist_error(nodelist, offset + i, "',' or ']'");
    ++i;
  }
  return out;
}

Result<std::uint16_t> parse_port(std::string_view text, std::string_view item) {
  if (text.empty() || text.size() > 5 || !std::all_of(text.begin(), text.end(), is_digit)) {
    return Error(ErrorCode::parse_error, fmt::format("host \"{}\": port \"{}\" is not a number 1-65535", item, text));
  }
  const long port = std::stol(std::string(text));
  if (port < 1 || port > 65535) {
    return Error(ErrorCode::parse_error, fmt::format("host \"{}\": port {} is not in 1-65535", item, port));
  }
  return static_cast<std::uint16_t>(port);
}

Result<HostEntry> parse_host_item(std::string_view item, std::uint16_t default_port) {
  HostEntry entry;
  entry.port = default_port;
  std::string_view host = item;
  if (!item.empty() && item.front() == '[') {  // [v6]:port
    const auto close = item.find(']');
    if (close == std::string_view::npos) {
      return Error(ErrorCode::parse_error, fmt::format("host \"{}\": '[' without ']'", item));
    }
    host = item.substr(1, close - 1);
    const auto rest = item.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return Error(ErrorCode::parse_error, fmt::format("host \"{}\": expected ':' after ']'", item));
      auto port = parse_port(rest.substr(1), item);
      if (!port) return std::move(port).error();
      entry.port = *port;
    }
  } else if (const auto colon = item.rfind(':'); colon != std::string_view::npos) {
    if (item.find(':') != colon) {
      return Error(ErrorCode::parse_error,
                   fmt::format("host \"{}\": write an IPv6 address as [addr]:port", item));
    }
    host = item.substr(0, colon);
    auto port = parse_port(item.substr(colon + 1), item);
    if (!port) return std::move(port).error();
    entry.port = *port;
  }
  if (host.empty()) return Error(ErrorCode::parse_error, fmt::format("host \"{}\": no host name", item));
  entry.host = std::string(host);
  return entry;
}

}  // namespace

std::string HostEntry::to_string() const {
  return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port)
                                             : fmt::format("{}:{}", host, port);
}

Result<std::vector<std::string>> expand_slurm_nodelist(std::string_view nodelist, std::size_t limit) {
  std::vector<std::string> names;
  std::size_t i = 0;
  while (i < nodelist.size()) {
    // One name: literal text and bracket groups until a ',' outside brackets.
    std::vector<std::string> partial{""};
    const std::size_t name_start = i;
    while (i < nodelist.size() && nodelist[i] != ',') {
      if (nodelist[i] == '[') {
        const auto close = nodelist.find(']', i);
        if (close == std::string_view::npos) return nodelist_error(nodelist, i, "']' to close '['");
        auto numbers = expand_ranges(nodelist, i + 1, nodelist.substr(i + 1, close - i - 1), limit);
        if (!numbers) return std::move(numbers).error();
        std::vector<std::string> next;
        for (const auto& prefix : partial) {
          for (const auto& number : *numbers) {
            if (next.size() + names.size() >= limit) return nodelist_error(nodelist, i, fmt::format("at most {} names", limit));
            next.push_back(prefix + number);
          }
        }
        partial = std::move(next);
        i = close + 1;
      } else if (nodelist[i] == ']' || is_space(nodelist[i])) {
        return nodelist_error(nodelist, i, "a host name character");
      } else {
        for (auto& prefix : partial) prefix.push_back(nodelist[i]);
        ++i;
      }
    }
    if (i == name_start) return nodelist_error(nodelist, i, "a host name");
    names.insert(names.end(), partial.begin(), partial.end());
    if (i < nodelist.size()) {
      ++i;  // ','
      if (i == nodelist.size()) return nodelist_error(nodelist, i, "a host name after ','");
    }
  }
  if (names.empty()) return Error(ErrorCode::parse_error, "Slurm node list is empty");
  return names;
}

namespace {

// The entries of a list whose items are separated by commas or spaces, each read by
// `parse_item`; the first item it refuses ends the list with its error.
template <class ParseItem>
Result<std::vector<HostEntry>> parse_items(std::string_view text, std::string_view what, ParseItem parse_item) {
  std::vector<HostEntry> hosts;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ',' || is_space(text[i]))) ++i;
    const std::size_t start = i;
    while (i < text.size() && text[i] != ',' && !is_space(text[i])) ++i;
    if (i == start) break;
    auto entry = parse_item(text.substr(start, i - start));
    if (!entry) return std::move(entry).error();
    hosts.push_back(std::move(*entry));
  }
  if (hosts.empty()) return Error(ErrorCode::parse_error, fmt::format("{} \"{}\" names no host", what, text));
  return hosts;
}

}  // namespace

Result<std::vector<HostEntry>> parse_host_list(std::string_view text, std::uint16_t default_port) {
  return parse_items(text, "host list",
                     [default_port](std::string_view item) { return parse_host_item(item, default_port); });
}

Result<std::vector<HostEntry>> parse_hostfile(std::string_view text, std::string_view origin,
                                              std::uint16_t default_port) {
  std::vector<HostEntry> hosts;
  std::istringstream lines{std::string(text)};
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    if (const auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::string word;
    if (!(words >> word)) continue;
    auto entry = parse_host_item(word, default_port);
    if (!entry) return Error(ErrorCode::parse_error, fmt::format("{}:{}: {}", origin, number, entry.error().message));
    while (words >> word) {
      const auto equals = word.find('=');
      const std::string key = word.substr(0, equals);
      const std::string value = equals == std::string::npos ? "" : word.substr(equals + 1);
      if (key == "slots" || key == "max_slots" || key == "max-slots") {
        if (value.empty() || value.size() > 6 || !std::all_of(value.begin(), value.end(), is_digit)) {
          return Error(ErrorCode::parse_error, fmt::format("{}:{}: \"{}\": expected {}=<number>", origin, number, word, key));
        }
        if (key == "slots") entry->slots = static_cast<std::uint32_t>(std::stoul(value));
      } else {
        return Error(ErrorCode::parse_error,
                     fmt::format("{}:{}: unknown field \"{}\" (known: slots=N, max_slots=N)", origin, number, word));
      }
    }
    hosts.push_back(std::move(*entry));
  }
  if (hosts.empty()) return Error(ErrorCode::parse_error, fmt::format("hostfile {} names no host", origin));
  return hosts;
}

Result<std::vector<HostEntry>> read_hostfile(const std::string& path, std::uint16_t default_port) {
  std::ifstream file(path);
  if (!file) {
    return Error(ErrorCode::not_found, fmt::format("cannot read hostfile {}: {}", path, std::strerror(errno)));
  }
  std::stringstream text;
  text << file.rdbuf();
  return parse_hostfile(text.str(), path, default_port);
}

Result<std::vector<HostEntry>> parse_mpi_host_list(std::string_view text, std::uint16_t default_port) {
  return parse_items(text, "Open MPI host list", [default_port](std::string_view item) -> Result<HostEntry> {
    const auto colon = item.find(':');
    HostEntry entry{std::string(item.substr(0, colon)), default_port, 0};
    if (entry.host.empty()) {
      return Error(ErrorCode::parse_error, fmt::format("Open MPI host \"{}\": no host name", item));
    }
    if (colon != std::string_view::npos) {
      const auto slots = item.substr(colon + 1);
      if (slots.empty() || slots.size() > 6 || !std::all_of(slots.begin(), slots.end(), is_digit)) {
        return Error(ErrorCode::parse_error,
                     fmt::format("Open MPI host \"{}\": expected host or host:SLOTS (a number)", item));
      }
      entry.slots = static_cast<std::uint32_t>(std::stoul(std::string(slots)));
    }
    return entry;
  });
}

Result<HostSelection> find_hosts(const HostSources& sources) {
  auto getenv = [&](const std::string& name) -> std::optional<std::string> {
    if (sources.getenv) return sources.getenv(name);
    const char* value = std::getenv(name.c_str());
    return value ? std::optional<std::string>(value) : std::nullopt;
  };
  auto with_source = [](Result<std::vector<HostEntry>> hosts, std::string source) -> Result<HostSelection> {
    if (!hosts) return Error(hosts.error().code, fmt::format("hosts from {}: {}", source, hosts.error().message));
    return HostSelection{std::move(*hosts), std::move(source)};
  };
  if (!sources.list.empty()) return with_source(parse_host_list(sources.list, sources.port), "the host list");
  if (!sources.hostfile.empty()) {
    return with_source(read_hostfile(sources.hostfile, sources.port), "hostfile " + sources.hostfile);
  }
  std::vector<std::string> tried{"a host list (not given)", "a hostfile (not given)"};
  if (sources.use_environment) {
    if (auto list = getenv("ZMESH_HOSTS"); list && !list->empty()) {
      return with_source(parse_host_list(*list, sources.port), "ZMESH_HOSTS=" + *list);
    }
    if (auto file = getenv("ZMESH_HOSTFILE"); file && !file->empty()) {
      return with_source(read_hostfile(*file, sources.port), "ZMESH_HOSTFILE=" + *file);
    }
    // "none" is Open MPI's own way of saying "no default hostfile".
    if (auto file = getenv("OMPI_MCA_orte_default_hostfile"); file && !file->empty() && *file != "none") {
      return with_source(read_hostfile(*file, sources.port), "OMPI_MCA_orte_default_hostfile=" + *file);
    }
    if (auto list = getenv("OMPI_MCA_orte_default_dash_host"); list && !list->empty()) {
      return with_source(parse_mpi_host_list(*list, sources.port), "OMPI_MCA_orte_default_dash_host=" + *list);
    }
    if (auto nodelist = getenv("SLURM_JOB_NODELIST"); nodelist && !nodelist->empty()) {
      auto names = expand_slurm_nodelist(*nodelist);
      if (!names) {
        return Error(names.error().code, fmt::format("hosts from SLURM_JOB_NODELIST={}: {}", *nodelist,
                                                     names.error().message));
      }
      std::vector<HostEntry> hosts;
      for (auto& name : *names) hosts.push_back(HostEntry{std::move(name), sources.port, 0});
      return HostSelection{std::move(hosts), "SLURM_JOB_NODELIST=" + *nodelist};
    }
    tried.insert(tried.end(), {"ZMESH_HOSTS (not set)", "ZMESH_HOSTFILE (not set)"});
    if (auto size = getenv("OMPI_COMM_WORLD_SIZE")) {
      tried.push_back(fmt::format(
          "Open MPI's OMPI_MCA_orte_default_hostfile and OMPI_MCA_orte_default_dash_host (not set: this "
          "runs under mpirun (OMPI_COMM_WORLD_SIZE={}), but mpirun does not pass its --host or --hostfile "
          "to programs; use mpirun --mca orte_default_hostfile FILE or --mca orte_default_dash_host LIST)",
          *size));
    } else {
      tried.push_back("Open MPI's OMPI_MCA_orte_default_hostfile and OMPI_MCA_orte_default_dash_host (not set)");
    }
    tried.push_back("SLURM_JOB_NODELIST (not set: not inside a Slurm allocation)");
  } else {
    tried.push_back("the environment (not consulted)");
  }
  return Error(ErrorCode::not_found,
               fmt::format("no launcher hosts: tried {}; give --hosts host1,host2[:port] or "
                           "--hostfile FILE, or run inside a Slurm allocation or under mpirun with a hostfile",
                           fmt::join(tried, ", ")));
}

Result<std::string> local_address_towards(const HostEntry& host) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(host.port);
  if (int rc = ::getaddrinfo(host.host.c_str(), port.c_str(), &hints, &found); rc != 0 || !found) {
    return Error(ErrorCode::not_found, fmt::format("cannot resolve host \"{}\": {}", host.host, ::gai_strerror(rc)));
  }
  // connect() on a datagram socket only picks the route and the local address.
  internal::UniqueFd probe(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  const int connected = probe.valid() ? ::connect(probe.get(), found->ai_addr, found->ai_addrlen) : -1;
  ::freeaddrinfo(found);
  sockaddr_in local{};
  socklen_t length = sizeof local;
  if (connected != 0 || ::getsockname(probe.get(), reinterpret_cast<sockaddr*>(&local), &length) != 0) {
    return Error(ErrorCode::transport_failed, fmt::format("no route to host {}: {}", host.to_string(), std::strerror(errno)));
  }
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &local.sin_addr, text, sizeof text);
  return std::string(text);
}

std::string local_host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "unknown-host";
  return name;
}

}  // namespace zmesh
