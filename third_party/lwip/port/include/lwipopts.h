/* lwipopts.h — lwIP's configuration for keel's network server
 * (servers/netstack): one thread, raw API, IPv4 with TCP, UDP, ICMP and
 * ARP over one Ethernet interface, static memory sized for a few clients.
 * Checksums are computed in software both ways (the virtio-net driver
 * negotiates no offloads). */
#ifndef KEEL_LWIPOPTS_H
#define KEEL_LWIPOPTS_H

#define NO_SYS 1 /* no threads, no semaphores: the server's loop calls in */
#define SYS_LIGHTWEIGHT_PROT 0
#define LWIP_TIMERS 1 /* sys_check_timeouts() from the loop; sys_now() in port.cc */
#define LWIP_SOCKET 0
#define LWIP_NETCONN 0
#define LWIP_NETIF_API 0

#define LWIP_IPV4 1
#define LWIP_IPV6 0
#define LWIP_ARP 1
#define LWIP_ETHERNET 1
#define LWIP_ICMP 1
#define LWIP_UDP 1
#define LWIP_TCP 1
#define LWIP_RAW 0
#define LWIP_DHCP 0 /* static: QEMU user networking's 10.0.2.15/24 */
#define LWIP_AUTOIP 0
#define LWIP_DNS 0
#define LWIP_IGMP 0
#define LWIP_SINGLE_NETIF 1
#define IP_REASSEMBLY 1 /* fragments from outside are reassembled (bounded below) */
#define IP_FRAG 1
#define MEMP_NUM_REASSDATA 4
#define IP_REASS_MAX_PBUFS 16
#define ETHARP_SUPPORT_STATIC_ENTRIES 0
#define ARP_TABLE_SIZE 8
#define ARP_QUEUEING 1

/* Memory: a heap for outgoing data and pools for the rest; all static. */
#define MEM_ALIGNMENT 8
#define MEM_SIZE (96 * 1024)
#define MEMP_NUM_PBUF 64
#define MEMP_NUM_UDP_PCB 16
#define MEMP_NUM_TCP_PCB 80 /* 64 sockets of one client, and the others' */
#define MEMP_NUM_TCP_PCB_LISTEN 8
#define MEMP_NUM_TCP_SEG 192
#define MEMP_NUM_ARP_QUEUE 16
#define PBUF_POOL_SIZE 128 /* received frames; each client may hold 32 KiB unread (netstack.cc) */
#define PBUF_POOL_BUFSIZE 1536

#define TCP_MSS 1460
#define TCP_WND (16 * TCP_MSS)
#define TCP_SND_BUF (16 * TCP_MSS)
#define TCP_SND_QUEUELEN (4 * TCP_SND_BUF / TCP_MSS)
#define TCP_LISTEN_BACKLOG 1
#define TCP_OVERSIZE TCP_MSS
#define LWIP_TCP_KEEPALIVE 0
#define TCP_QUEUE_OOSEQ 1
#define TCP_OOSEQ_MAX_PBUFS 16

#define LWIP_CHKSUM_ALGORITHM 3
#define LWIP_STATS 0
#define LWIP_NETIF_STATUS_CALLBACK 0
#define LWIP_NETIF_LINK_CALLBACK 0
#define LWIP_PROVIDE_ERRNO 0

#endif
