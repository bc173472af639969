// transport/sanitizers.h — H2RPC_ASAN / H2RPC_TSAN: defined when this translation unit is built
// with AddressSanitizer / ThreadSanitizer, by g++ (which defines __SANITIZE_ADDRESS__ and
// __SANITIZE_THREAD__) and by clang 14 (which defines neither for ASan: it has __has_feature).
// One place for the test, so that code which behaves differently under a sanitizer (BlockPool
// hands out plain heap blocks under ASan, so ASan sees every use after free) does so with both
// compilers, the fuzz build (clang) included.
#ifndef H2RPC_TRANSPORT_SANITIZERS_H_
#define H2RPC_TRANSPORT_SANITIZERS_H_

#if defined(__SANITIZE_ADDRESS__)
#define H2RPC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define H2RPC_ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define H2RPC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define H2RPC_TSAN 1
#endif
#endif

#endif  // H2RPC_TRANSPORT_SANITIZERS_H_
