#pragma once
// ThreadSanitizer annotations for the buffer hand-off inside libzmq, which TSan cannot see:
// over inproc:// the receiver reads the very buffer the sender's thread filled, passed
// through libzmq's uninstrumented lock-free pipes. The sender releases it, the receiver
// acquires it. (Over ipc:// and tcp:// libzmq writes fresh buffers itself; TSan must be
// told to ignore those writes: called_from_lib:libzmq in the suppressions.)
// Thread: call on the sending or receiving thread. No-ops without -fsanitize=thread.

#if defined(__SANITIZE_THREAD__)
extern "C" void __tsan_acquire(void* address);
extern "C" void __tsan_release(void* address);
#endif

namespace zmesh::internal {

// Before handing a buffer this thread filled to an inproc:// peer.
inline void released_to_zeromq([[maybe_unused]] const void* data) {
#if defined(__SANITIZE_THREAD__)
  if (data != nullptr) __tsan_release(const_cast<void*>(data));
#endif
}

// After receiving a buffer from an inproc:// peer, before reading it.
inline void acquired_from_zeromq([[maybe_unused]] const void* data) {
#if defined(__SANITIZE_THREAD__)
  if (data != nullptr) __tsan_acquire(const_cast<void*>(data));
#endif
}

}  // namespace zmesh::internal
