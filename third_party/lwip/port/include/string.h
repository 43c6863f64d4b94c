/* string.h — the C string functions lwIP calls, for keel's freestanding
 * build (the definitions: //kernel/lib:string and port.cc in the network
 * server). Only lwIP's compilation sees this header. */
#ifndef KEEL_LWIP_STRING_H
#define KEEL_LWIP_STRING_H
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif
void* memcpy(void* dst, const void* src, size_t n);
void* memmove(void* dst, const void* src, size_t n);
void* memset(void* dst, int c, size_t n);
int memcmp(const void* a, const void* b, size_t n);
size_t strlen(const char* s);
int strncmp(const char* a, const char* b, size_t n);
#ifdef __cplusplus
}
#endif
#endif
