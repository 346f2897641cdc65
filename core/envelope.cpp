#include "zmesh/core/envelope.hpp"

#include <fmt/format.h>

namespace zmesh {
namespace {

// Keys of the header map; short because every message carries them.
constexpr std::string_view key_version = "v";
constexpr std::string_view key_sender = "src";
constexpr std::string_view key_destination = "dst";
constexpr std::string_view key_type = "type";
constexpr std::string_view key_headers = "hdr";

Error header_error(std::string_view what) {
  return Error(ErrorCode::decode_error, fmt::format("bad envelope header: {}", what));
}

}  // namespace

Lane lane_of(std::string_view type_name) noexcept {
  for (std::string_view prefix : {"zmesh.agent.", "zmesh.boot.", "zmesh.Undeliverable"}) {
    if (type_name.starts_with(prefix)) return Lane::control;
  }
  return Lane::data;
}

std::size_t queued_bytes(const Envelope& envelope) noexcept {
  // Ids and the type name dominate the header; a fixed estimate keeps this cheap.
  std::size_t bytes = 64 + envelope.type_name.size();
  for (const auto& frame : envelope.payload) bytes += frame.size();
  return bytes;
}

Frame encode_header(const Envelope& envelope) {
  internal::PackBuffer buffer;
  msgpack::packer<internal::PackBuffer> out(buffer);
  out.pack_map(5);
  out.pack(key_version);
  out.pack(envelope_format_version);
  out.pack(key_sender);
  out.pack(envelope.sender);
  out.pack(key_destination);
  out.pack(envelope.destination);
  out.pack(key_type);
  out.pack(envelope.type_name);
  out.pack(key_headers);
  out.pack_map(static_cast<std::uint32_t>(envelope.headers.size()));
  for (const auto& [key, encoded] : envelope.headers.raw()) {
    out.pack(key);
    buffer.write(encoded.data(), encoded.size());  // already one msgpack value
  }
  return std::move(buffer).frame();
}

Result<Envelope> decode_envelope(const Frame& header, Frames payload) {
  msgpack::object root;
  try {
    root = unpack_scratch(header.data(), header.size());
  } catch (const std::exception& e) {
    return header_error(fmt::format("{} bytes are not msgpack ({})", header.size(), e.what()));
  }
  if (root.type != msgpack::type::MAP) return header_error("not a map");

  Envelope envelope;
  envelope.payload = std::move(payload);
  bool has_version = false, has_sender = false, has_destination = false, has_type = false;
  try {
    for (const auto& entry : std::span(root.via.map.ptr, root.via.map.size)) {
      if (entry.key.type != msgpack::type::STR) continue;
      const std::string_view key(entry.key.via.str.ptr, entry.key.via.str.size);
      if (key == key_version) {
        const auto version = entry.val.as<std::uint32_t>();
        if (version != envelope_format_version) {
          return Error(ErrorCode::version_mismatch,
                       fmt::format("envelope format version {} received, this build speaks {}; "
                                   "build every node from the same zmesh release",
                                   version, envelope_format_version));
        }
        has_version = true;
      } else if (key == key_sender) {
        entry.val.convert(envelope.sender);
        has_sender = true;
      } else if (key == key_destination) {
        entry.val.convert(envelope.destination);
        has_destination = true;
      } else if (key == key_type) {
        entry.val.convert(envelope.type_name);
        has_type = true;
      } else if (key == key_headers) {
        if (entry.val.type != msgpack::type::MAP) return header_error("\"hdr\" is not a map");
        for (const auto& h : std::span(entry.val.via.map.ptr, entry.val.via.map.size)) {
          envelope.headers.set_raw(h.key.as<std::string>(), encode_to_string(h.val));
        }
      }
      // Any other key comes from a newer peer: skipped on purpose.
    }
  } catch (const std::exception& e) {
    return header_error(fmt::format("a field has the wrong type ({})", e.what()));
  }
  if (!has_version) return header_error("no format version \"v\"");
  if (!has_sender || !has_destination || !has_type) {
    return header_error("missing sender, destination or type");
  }
  return envelope;
}

}  // namespace zmesh
