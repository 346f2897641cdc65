#include "zmesh/core/key_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace zmesh {
namespace {

constexpr std::size_t z85_key_length = 40;
constexpr std::string_view z85_alphabet =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

bool is_z85_key(std::string_view text) {
  return text.size() == z85_key_length && text.find_first_not_of(z85_alphabet) == std::string_view::npos;
}

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r");
  return text.substr(first, last - first + 1);
}

}  // namespace

Result<void> check_key_pair(const CurveKeyPair& keys, std::string_view origin) {
  if (!is_z85_key(keys.public_key) || !is_z85_key(keys.secret_key)) {
    return Error(ErrorCode::invalid_argument,
                 fmt::format("{} does not hold a CURVE key pair (public-key and secret-key, 40 "
                             "Z85 characters each); write a new one with `zmesh keygen FILE`",
                             origin));
  }
  return {};
}

Result<CurveKeyPair> read_key_file(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    return Error(ErrorCode::unauthenticated,
                 fmt::format("key file {}: {}; create it with `zmesh keygen {}` and copy it to "
                             "every host",
                             path, std::strerror(errno), path));
  }
  if (!S_ISREG(info.st_mode)) {
    return Error(ErrorCode::unauthenticated, fmt::format("key file {} is not a regular file", path));
  }
  if ((info.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return Error(ErrorCode::unauthenticated,
                 fmt::format("key file {} can be read by others (mode {:03o}): anyone who reads "
                             "it can start processes through your launchers; run `chmod 600 {}`",
                             path, info.st_mode & 0777, path));
  }
  std::ifstream file(path);
  if (!file) {
    return Error(ErrorCode::unauthenticated,
                 fmt::format("key file {} cannot be opened: {}", path, std::strerror(errno)));
  }
  CurveKeyPair keys;
  std::string line;
  while (std::getline(file, line)) {
    const std::string_view text = trim(line);
    if (text.empty() || text.front() == '#') continue;
    const auto equals = text.find('=');
    if (equals == std::string_view::npos) continue;
    const auto name = trim(text.substr(0, equals));
    const auto value = trim(text.substr(equals + 1));
    if (name == "public-key") keys.public_key = std::string(value);
    if (name == "secret-key") keys.secret_key = std::string(value);
  }
  if (auto checked = check_key_pair(keys, "key file " + path); !checked) return std::move(checked).error();
  return keys;
}

Result<void> write_key_file(const std::string& path, const CurveKeyPair& keys) {
  if (auto checked = check_key_pair(keys, "the new key pair"); !checked) return checked;
  // O_EXCL: never replace a cluster's key by accident; 0600 from the first byte on.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Error(errno == EEXIST ? ErrorCode::duplicate : ErrorCode::invalid_argument,
                 fmt::format("cannot create key file {}: {}{}", path, std::strerror(errno),
                             errno == EEXIST ? " (remove it first to replace the key)" : ""));
  }
  const std::string text = fmt::format(
      "# zmesh CURVE key pair, written by `zmesh keygen`. Keep it secret (mode 0600): whoever\n"
      "# has it can start processes through your launchers. Give every host the same file.\n"
      "public-key = {}\nsecret-key = {}\n",
      keys.public_key, keys.secret_key);
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const int write_errno = errno;
  const bool closed = ::close(fd) == 0;
  if (!written || !closed) {
    ::unlink(path.c_str());
    return Error(ErrorCode::invalid_argument,
                 fmt::format("cannot write key file {}: {}", path, std::strerror(write_errno)));
  }
  return {};
}

std::string key_pair_text(const CurveKeyPair& keys) { return keys.public_key + ":" + keys.secret_key; }

Result<CurveKeyPair> parse_key_pair_text(std::string_view text, std::string_view origin) {
  CurveKeyPair keys;
  if (text.size() == 2 * z85_key_length + 1 && text[z85_key_length] == ':') {
    keys.public_key = std::string(text.substr(0, z85_key_length));
    keys.secret_key = std::string(text.substr(z85_key_length + 1));
  }
  if (auto checked = check_key_pair(keys, origin); !checked) return std::move(checked).error();
  return keys;
}

}  // namespace zmesh
