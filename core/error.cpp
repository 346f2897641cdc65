#include "zmesh/core/error.hpp"

namespace zmesh {

std::string_view to_string(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::invalid_argument: return "invalid_argument";
    case ErrorCode::parse_error: return "parse_error";
    case ErrorCode::not_found: return "not_found";
    case ErrorCode::duplicate: return "duplicate";
    case ErrorCode::decode_error: return "decode_error";
    case ErrorCode::version_mismatch: return "version_mismatch";
    case ErrorCode::timeout: return "timeout";
    case ErrorCode::undeliverable: return "undeliverable";
    case ErrorCode::transport_failed: return "transport_failed";
    case ErrorCode::actor_failed: return "actor_failed";
    case ErrorCode::proc_failed: return "proc_failed";
    case ErrorCode::stopped: return "stopped";
    case ErrorCode::cancelled: return "cancelled";
    case ErrorCode::internal: return "internal";
    case ErrorCode::backpressure: return "backpressure";
    case ErrorCode::too_large: return "too_large";
    case ErrorCode::unauthenticated: return "unauthenticated";
  }
  return "unknown";
}

std::string Error::describe() const {
  std::string text(to_string(code));
  text += ": ";
  text += message;
  return text;
}

}  // namespace zmesh
