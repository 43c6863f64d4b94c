/* stdlib.h — what lwIP calls of it (netif_find's atoi); defined in the
 * network server's port.cc. lwIP's memory is its own heap and pools. */
#ifndef KEEL_LWIP_STDLIB_H
#define KEEL_LWIP_STDLIB_H
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif
int atoi(const char* s);
#ifdef __cplusplus
}
#endif
#endif
