#include "zmesh/transport/security.hpp"

#include <fmt/format.h>

#include <zmq.hpp>

#include <array>

namespace zmesh {

bool uses_curve(std::string_view address, const Config& config) {
  return address.starts_with("tcp://") && !config.curve.empty();
}

Result<void> secure_socket(zmq::socket_t& socket, std::string_view address, const Config& config,
                           SocketRole role) {
  if (!address.starts_with("tcp://")) return {};
  if (config.curve.empty()) {
    if (config.insecure) return {};
    return Error(ErrorCode::unauthenticated,
                 fmt::format("{} is tcp, which zmesh secures with CURVE keys, and no key is "
                             "configured: run `zmesh keygen FILE` once, copy FILE to every host "
                             "and set ZMESH_KEY_FILE=FILE (or --key FILE); on a trusted network, "
                             "ZMESH_INSECURE=1 (--insecure) allows plain tcp",
                             address));
  }
  if (auto checked = check_key_pair(config.curve, "the configured key pair"); !checked) return checked;
  std::array<char, 41> derived{};
  if (zmq_curve_public(derived.data(), config.curve.secret_key.c_str()) != 0 ||
      config.curve.public_key != derived.data()) {
    return Error(ErrorCode::unauthenticated,
                 fmt::format("the public key in {} does not belong to its secret key; write a "
                             "new pair with `zmesh keygen FILE`",
                             config.key_file.empty() ? std::string("ZMESH_KEY") : config.key_file));
  }
  try {
    if (role == SocketRole::server) {
      socket.set(zmq::sockopt::curve_server, 1);
    } else {
      socket.set(zmq::sockopt::curve_serverkey, config.curve.public_key);
      socket.set(zmq::sockopt::curve_publickey, config.curve.public_key);
    }
    socket.set(zmq::sockopt::curve_secretkey, config.curve.secret_key);
  } catch (const zmq::error_t& e) {
    return Error(ErrorCode::unauthenticated,
                 fmt::format("cannot turn CURVE on for {}: {} (is libzmq built with CURVE?)", address,
                             e.what()));
  }
  return {};
}

Result<CurveKeyPair> generate_key_pair() {
  std::array<char, 41> public_key{};
  std::array<char, 41> secret_key{};
  if (zmq_curve_keypair(public_key.data(), secret_key.data()) != 0) {
    return Error(ErrorCode::internal,
                 fmt::format("libzmq cannot make a CURVE key pair: {} (is it built with CURVE?)",
                             zmq_strerror(zmq_errno())));
  }
  return CurveKeyPair{public_key.data(), secret_key.data()};
}

}  // namespace zmesh
