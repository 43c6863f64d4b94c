/* stdio.h — nothing: lwIP's diagnostics go through LWIP_PLATFORM_DIAG (arch/cc.h). */
#ifndef KEEL_LWIP_STDIO_H
#define KEEL_LWIP_STDIO_H
#endif
