/* arch/cc.h — lwIP's compiler and platform definitions for keel: aarch64,
 * little-endian, clang, freestanding (no inttypes.h, no ctype.h). */
#ifndef KEEL_LWIP_ARCH_CC_H
#define KEEL_LWIP_ARCH_CC_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define LWIP_NO_INTTYPES_H 1
#define LWIP_NO_CTYPE_H 1
#define X8_F "02x"
#define U16_F "u"
#define S16_F "d"
#define X16_F "x"
#define U32_F "u"
#define S32_F "d"
#define X32_F "x"
#define SZT_F "lu"

#define BYTE_ORDER LITTLE_ENDIAN
#define lwip_htons(x) ((u16_t)__builtin_bswap16((u16_t)(x)))
#define lwip_htonl(x) ((u32_t)__builtin_bswap32((u32_t)(x)))

#ifdef __cplusplus
extern "C" {
#endif
/* The network server defines these (servers/netstack/port.cc). */
void keel_lwip_diag(const char* fmt, ...);
void keel_lwip_assert(const char* what, const char* file, int line) __attribute__((noreturn));
unsigned keel_lwip_rand(void);
#ifdef __cplusplus
}
#endif

/* An lwIP assertion stops the server with a report: a stack that found its
 * own state inconsistent must not go on (init restarts it or says so). */
#define LWIP_PLATFORM_DIAG(x) \
  do {                        \
    keel_lwip_diag x;         \
  } while (0)
#define LWIP_PLATFORM_ASSERT(x) keel_lwip_assert((x), __FILE__, __LINE__)
#define LWIP_RAND() ((u32_t)keel_lwip_rand())

#endif
