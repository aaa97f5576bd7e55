/*
 * netbench: the guest side of the network benchmark protocol
 * (bench/README.md, "Network benchmark protocol"), for the Linux baseline
 * guest. Built by build_guest.py with the host's `gcc -static -O2` and put in the
 * initramfs; Sluice's user/bench/netbench speaks the same protocol.
 *
 *   netbench serve [CTRL_PORT [DATA_PORT]]     (defaults 5000 5001)
 *
 * The host drives: it connects to CTRL_PORT (through QEMU's hostfwd),
 * reads the hello line, and sends one command line at a time; each command
 * is answered by exactly one line. The host's own counts are the figures;
 * the guest's result lines are its view, printed next to them.
 *
 *   -> netbench-hello 1 linux
 *   <- udp-rtt HOST PORT SIZE SECONDS WINDOW
 *   -> result udp-rtt sent=N recv=N lost=N secs=S rtt_mean_us=X rtt_p50_us=X rtt_p99_us=X
 *   <- udp-tx HOST PORT SIZE SECONDS BATCH
 *   -> result udp-tx sent=N errors=N secs=S
 *   <- tcp              (then the host opens one connection to DATA_PORT and
 *                        sends "rx\n" or "tx SECONDS\n" on it)
 *   -> result tcp-rx bytes=N secs=S   |   result tcp-tx bytes=N secs=S
 *   <- quit
 *   -> bye
 * A command the guest cannot run is answered "error <what>".
 *
 * Linux at its best: blocking sockets, one thread, sendmmsg() batches for
 * udp-tx (BATCH datagrams a call), 256 KiB reads and writes for TCP.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_DGRAM 65507
#define MAX_WINDOW 256
#define MAX_BATCH 256
#define MAX_SAMPLES (8u << 20)
#define TCP_CHUNK (256u << 10)
#define ACCEPT_TIMEOUT_MS 30000
#define RTT_TIMEOUT_NS 200000000ull /* a datagram unanswered this long is lost */

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int reply(int ctl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int reply(int ctl, const char *fmt, ...) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line - 1) return -1;
    line[n++] = '\n';
    printf("netbench: %.*s", n, line); /* the serial log keeps the guest's view too */
    fflush(stdout);
    for (int off = 0; off < n;) {
        ssize_t w = send(ctl, line + off, (size_t)(n - off), MSG_NOSIGNAL);
        if (w <= 0) return -1;
        off += (int)w;
    }
    return 0;
}

/* One line (without '\n') from a stream socket; -1 on EOF/error/overlong. */
static int read_line(int fd, char *buf, size_t cap) {
    size_t n = 0;
    for (;;) {
        char c;
        ssize_t r = recv(fd, &c, 1, 0);
        if (r <= 0) return -1;
        if (c == '\n') break;
        if (n + 1 >= cap) return -1;
        buf[n++] = c;
    }
    buf[n] = 0;
    return (int)n;
}

static int udp_socket_to(const char *host, int port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (port <= 0 || port > 65535 || inet_pton(AF_INET, host, &a.sin_addr) != 1) return -1;
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0) return -1;
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
        close(s);
        return -1;
    }
    return s;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* WINDOW datagrams of SIZE bytes in flight; each carries its sequence number
 * (8 bytes, little endian) and the echo must bring it back. */
static void udp_rtt(int ctl, const char *host, int port, int size, int secs, int window) {
    if (size < 8 || size > MAX_DGRAM || secs <= 0 || window <= 0 || window > MAX_WINDOW) {
        reply(ctl, "error udp-rtt bad arguments");
        return;
    }
    int s = udp_socket_to(host, port);
    uint32_t *rtt = malloc(MAX_SAMPLES * sizeof *rtt);
    char *buf = calloc(1, MAX_DGRAM);
    if (s < 0 || !rtt || !buf) {
        reply(ctl, "error udp-rtt setup: %s", strerror(errno));
        goto out;
    }
    struct timeval tv = {.tv_sec = 0, .tv_usec = 20000};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    uint64_t sent_at[MAX_WINDOW];
    uint64_t slot_seq[MAX_WINDOW];
    uint64_t seq = 0, recv_n = 0, lost = 0, nsamples = 0, sum_ns = 0;
    int outstanding = 0;
    uint64_t t0 = now_ns(), end = t0 + (uint64_t)secs * 1000000000ull, t = t0;
    for (int i = 0; i < window; i++) slot_seq[i] = UINT64_MAX;
    for (;;) {
        /* Keep the window full until the deadline. */
        while (t < end && outstanding < window) {
            int slot = (int)(seq % (uint64_t)window);
            if (slot_seq[slot] != UINT64_MAX) break; /* that slot still waits */
            memcpy(buf, &seq, 8);
            if (send(s, buf, (size_t)size, 0) != size) break;
            slot_seq[slot] = seq;
            sent_at[slot] = now_ns();
            seq++;
            outstanding++;
        }
        if (outstanding == 0) break;
        ssize_t r = recv(s, buf, MAX_DGRAM, 0);
        t = now_ns();
        if (r >= 8) {
            uint64_t q;
            memcpy(&q, buf, 8);
            int slot = (int)(q % (uint64_t)window);
            if (q < seq && slot_seq[slot] == q && r == size) {
                uint64_t d = t - sent_at[slot];
                slot_seq[slot] = UINT64_MAX;
                outstanding--;
                recv_n++;
                sum_ns += d;
                if (nsamples < MAX_SAMPLES) rtt[nsamples++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
            }
        }
        /* Give up on datagrams unanswered for RTT_TIMEOUT_NS (and on all of
         * them once the deadline is that far behind). */
        for (int i = 0; i < window; i++) {
            if (slot_seq[i] != UINT64_MAX && t - sent_at[i] > RTT_TIMEOUT_NS) {
                slot_seq[i] = UINT64_MAX;
                outstanding--;
                lost++;
            }
        }
    }
    double el = (double)(t - t0) / 1e9;
    double p50 = 0, p99 = 0;
    if (nsamples) {
        qsort(rtt, nsamples, sizeof *rtt, cmp_u32);
        p50 = rtt[nsamples / 2] / 1000.0;
        p99 = rtt[(nsamples * 99) / 100] / 1000.0;
    }
    reply(ctl, "result udp-rtt sent=%llu recv=%llu lost=%llu secs=%.6f rtt_mean_us=%.1f rtt_p50_us=%.1f rtt_p99_us=%.1f",
          (unsigned long long)seq, (unsigned long long)recv_n, (unsigned long long)lost, el,
          recv_n ? sum_ns / 1000.0 / (double)recv_n : 0.0, p50, p99);
out:
    if (s >= 0) close(s);
    free(rtt);
    free(buf);
}

/* Datagrams of SIZE bytes as fast as the stack takes them, BATCH per
 * sendmmsg(). ENOBUFS/EAGAIN (the NIC queue full) is counted, not fatal. */
static void udp_tx(int ctl, const char *host, int port, int size, int secs, int batch) {
    if (size < 1 || size > MAX_DGRAM || secs <= 0 || batch <= 0 || batch > MAX_BATCH) {
        reply(ctl, "error udp-tx bad arguments");
        return;
    }
    int s = udp_socket_to(host, port);
    char *buf = calloc(1, (size_t)size);
    if (s < 0 || !buf) {
        reply(ctl, "error udp-tx setup: %s", strerror(errno));
        goto out;
    }
    struct iovec iov = {.iov_base = buf, .iov_len = (size_t)size};
    struct mmsghdr msgs[MAX_BATCH];
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < batch; i++) {
        msgs[i].msg_hdr.msg_iov = &iov;
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    uint64_t sent = 0, errors = 0;
    uint64_t t0 = now_ns(), end = t0 + (uint64_t)secs * 1000000000ull, t = t0;
    while (t < end) {
        int n = sendmmsg(s, msgs, (unsigned)batch, 0);
        if (n > 0)
            sent += (uint64_t)n;
        else if (errno == ENOBUFS || errno == EAGAIN || errno == ECONNREFUSED)
            errors++;
        else {
            reply(ctl, "error udp-tx sendmmsg: %s", strerror(errno));
            goto out;
        }
        t = now_ns();
    }
    reply(ctl, "result udp-tx sent=%llu errors=%llu secs=%.6f", (unsigned long long)sent,
          (unsigned long long)errors, (double)(t - t0) / 1e9);
out:
    if (s >= 0) close(s);
    free(buf);
}

/* One data connection: its first line says the direction (the guest's). */
static void tcp(int ctl, int lsn) {
    struct pollfd p = {.fd = lsn, .events = POLLIN};
    if (poll(&p, 1, ACCEPT_TIMEOUT_MS) != 1) {
        reply(ctl, "error tcp no data connection");
        return;
    }
    int c = accept(lsn, NULL, NULL);
    char *buf = malloc(TCP_CHUNK);
    char hdr[64];
    if (c < 0 || !buf || read_line(c, hdr, sizeof hdr) < 0) {
        reply(ctl, "error tcp accept/header");
        goto out;
    }
    uint64_t bytes = 0, t0 = now_ns(), t;
    int secs;
    if (strcmp(hdr, "rx") == 0) {
        for (;;) {
            ssize_t r = recv(c, buf, TCP_CHUNK, 0);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            bytes += (uint64_t)r;
        }
        t = now_ns();
        char ack[64];
        int n = snprintf(ack, sizeof ack, "got %llu\n", (unsigned long long)bytes);
        if (send(c, ack, (size_t)n, MSG_NOSIGNAL) != n) {
            reply(ctl, "error tcp-rx ack not sent");
            goto out;
        }
        reply(ctl, "result tcp-rx bytes=%llu secs=%.6f", (unsigned long long)bytes, (double)(t - t0) / 1e9);
    } else if (sscanf(hdr, "tx %d", &secs) == 1 && secs > 0) {
        memset(buf, 0x5a, TCP_CHUNK);
        uint64_t end = t0 + (uint64_t)secs * 1000000000ull;
        for (t = t0; t < end; t = now_ns()) {
            ssize_t w = send(c, buf, TCP_CHUNK, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                reply(ctl, "error tcp-tx send: %s", strerror(errno));
                goto out;
            }
            bytes += (uint64_t)w;
        }
        shutdown(c, SHUT_WR);
        while (recv(c, buf, TCP_CHUNK, 0) > 0) { /* the host closes once it has read everything */
        }
        reply(ctl, "result tcp-tx bytes=%llu secs=%.6f", (unsigned long long)bytes, (double)(t - t0) / 1e9);
    } else {
        reply(ctl, "error tcp bad header");
    }
out:
    if (c >= 0) close(c);
    free(buf);
}

static int listener(int port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = INADDR_ANY};
    int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) return -1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 4) < 0) {
        close(s);
        return -1;
    }
    return s;
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "serve") != 0) {
        fprintf(stderr, "usage: netbench serve [CTRL_PORT [DATA_PORT]]\n");
        return 2;
    }
    int cport = argc > 2 ? atoi(argv[2]) : 5000, dport = argc > 3 ? atoi(argv[3]) : 5001;
    int cl = listener(cport), dl = listener(dport);
    if (cl < 0 || dl < 0) {
        perror("netbench: listen");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    printf("netbench: serving control port %d, data port %d\n", cport, dport);
    fflush(stdout);
    for (;;) {
        int ctl = accept(cl, NULL, NULL);
        if (ctl < 0) continue;
        int one = 1;
        setsockopt(ctl, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (reply(ctl, "netbench-hello 1 linux") < 0) {
            close(ctl);
            continue;
        }
        char line[256], host[64];
        int port, size, secs, arg;
        while (read_line(ctl, line, sizeof line) >= 0) {
            if (sscanf(line, "udp-rtt %63s %d %d %d %d", host, &port, &size, &secs, &arg) == 5)
                udp_rtt(ctl, host, port, size, secs, arg);
            else if (sscanf(line, "udp-tx %63s %d %d %d %d", host, &port, &size, &secs, &arg) == 5)
                udp_tx(ctl, host, port, size, secs, arg);
            else if (strcmp(line, "tcp") == 0)
                tcp(ctl, dl);
            else if (strcmp(line, "quit") == 0) {
                reply(ctl, "bye");
                close(ctl);
                return 0;
            } else
                reply(ctl, "error unknown command");
        }
        close(ctl); /* the host went away: wait for it to come back */
    }
}
