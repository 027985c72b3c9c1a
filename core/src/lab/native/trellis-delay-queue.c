/*
 * trellis-delay-queue: the lab's delay line (`trellis lab impair --delay/--jitter`). The kernel here
 * has no netem, so iptables-legacy sends the packets between two lab nodes to an NFQUEUE, and this
 * program holds each one for delay +/- jitter (uniform) before accepting it. It runs inside a node's
 * network namespace, one per impaired direction. Loss is not done here: nft numgen drops packets
 * before they are queued.
 *
 * Usage: trellis-delay-queue --queue <n> --delay-us <us> [--jitter-us <us>]
 * Prints one line when it is bound to the queue; on SIGTERM/SIGINT it accepts what it holds and exits.
 * Built by scripts/install-lab-tools.sh (setup) with Debian's libnetfilter-queue-dev.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

struct held {
  uint64_t due_ns;
  uint32_t id;
};

/* A binary min-heap of held packets by release time. */
static struct held *heap;
static size_t heap_len, heap_cap;
static uint64_t delay_ns, jitter_ns;
static volatile sig_atomic_t stopping;
static unsigned long long queued, released;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void heap_push(struct held h) {
  if (heap_len == heap_cap) {
    heap_cap = heap_cap ? heap_cap * 2 : 1024;
    heap = realloc(heap, heap_cap * sizeof *heap);
    if (!heap) {
      perror("trellis-delay-queue: realloc");
      exit(1);
    }
  }
  size_t i = heap_len++;
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (heap[p].due_ns <= h.due_ns) break;
    heap[i] = heap[p];
    i = p;
  }
  heap[i] = h;
}

static struct held heap_pop(void) {
  struct held top = heap[0], last = heap[--heap_len];
  size_t i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= heap_len) break;
    if (c + 1 < heap_len && heap[c + 1].due_ns < heap[c].due_ns) c++;
    if (last.due_ns <= heap[c].due_ns) break;
    heap[i] = heap[c];
    i = c;
  }
  if (heap_len > 0) heap[i] = last;
  return top;
}

/* hold_for draws delay +/- jitter, uniformly, never below zero. */
static uint64_t hold_for(void) {
  if (jitter_ns == 0) return delay_ns;
  double u = drand48() * 2.0 - 1.0;
  double d = (double)delay_ns + u * (double)jitter_ns;
  return d < 0 ? 0 : (uint64_t)d;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa, void *data) {
  (void)msg;
  (void)data;
  struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
  if (!ph) return 0;
  uint32_t id = ntohl(ph->packet_id);
  if (delay_ns == 0 && jitter_ns == 0) return nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
  heap_push((struct held){.due_ns = now_ns() + hold_for(), .id = id});
  queued++;
  return 0;
}

static void on_signal(int sig) {
  (void)sig;
  stopping = 1;
}

static unsigned long parse_num(const char *flag, const char *v) {
  char *end;
  errno = 0;
  unsigned long n = strtoul(v, &end, 10);
  if (errno || *end || end == v) {
    fprintf(stderr, "trellis-delay-queue: %s \"%s\" is not a whole number\n", flag, v);
    exit(2);
  }
  return n;
}

int main(int argc, char **argv) {
  long queue = -1;
  unsigned long delay_us = 0, jitter_us = 0;
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc) {
      fprintf(stderr, "trellis-delay-queue: %s needs a value\n", argv[i]);
      return 2;
    }
    if (!strcmp(argv[i], "--queue")) queue = (long)parse_num("--queue", argv[++i]);
    else if (!strcmp(argv[i], "--delay-us")) delay_us = parse_num("--delay-us", argv[++i]);
    else if (!strcmp(argv[i], "--jitter-us")) jitter_us = parse_num("--jitter-us", argv[++i]);
    else {
      fprintf(stderr, "trellis-delay-queue: unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  if (queue < 0 || queue > 65535) {
    fprintf(stderr, "usage: trellis-delay-queue --queue <0..65535> --delay-us <us> [--jitter-us <us>]\n");
    return 2;
  }
  if (jitter_us > delay_us) {
    fprintf(stderr, "trellis-delay-queue: jitter (%lu us) must not exceed delay (%lu us)\n", jitter_us, delay_us);
    return 2;
  }
  delay_ns = (uint64_t)delay_us * 1000u;
  jitter_ns = (uint64_t)jitter_us * 1000u;
  srand48((long)(now_ns() ^ (uint64_t)getpid()));

  struct sigaction sa = {0};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  struct nfq_handle *h = nfq_open();
  if (!h) {
    perror("trellis-delay-queue: nfq_open");
    return 1;
  }
  if (nfq_bind_pf(h, AF_INET) < 0) {
    perror("trellis-delay-queue: nfq_bind_pf");
    return 1;
  }
  struct nfq_q_handle *qh = nfq_create_queue(h, (uint16_t)queue, &on_packet, NULL);
  if (!qh) {
    fprintf(stderr, "trellis-delay-queue: cannot bind queue %ld (%s); is another program on it?\n", queue, strerror(errno));
    return 1;
  }
  /* Metadata only: the verdict never changes the packet, so its bytes need not cross to userspace. */
  if (nfq_set_mode(qh, NFQNL_COPY_META, 0) < 0) {
    perror("trellis-delay-queue: nfq_set_mode");
    return 1;
  }
  nfq_set_queue_maxlen(qh, 16384);
  /* Whole GSO packets (one verdict each), as the link would carry them. */
  nfq_set_queue_flags(qh, NFQA_CFG_F_GSO, NFQA_CFG_F_GSO);
  int fd = nfq_fd(h);
  int rcvbuf = 8 * 1024 * 1024;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
  printf("trellis-delay-queue: queue %ld, holding each packet %lu us +/- %lu us\n", queue, delay_us, jitter_us);
  fflush(stdout);

  char buf[65536] __attribute__((aligned));
  while (!stopping) {
    uint64_t t = now_ns();
    while (heap_len > 0 && heap[0].due_ns <= t) {
      struct held p = heap_pop();
      nfq_set_verdict(qh, p.id, NF_ACCEPT, 0, NULL);
      released++;
    }
    int timeout_ms = -1;
    if (heap_len > 0) {
      uint64_t wait = heap[0].due_ns - t;
      timeout_ms = (int)((wait + 999999) / 1000000);
    }
    /* poll has millisecond resolution: within the last millisecond, sleep the rest exactly. */
    if (heap_len > 0 && heap[0].due_ns - t < 1000000) {
      struct timespec ts = {0, (long)(heap[0].due_ns - t)};
      struct pollfd pf = {.fd = fd, .events = POLLIN};
      if (poll(&pf, 1, 0) <= 0) {
        nanosleep(&ts, NULL);
        continue;
      }
    } else {
      struct pollfd pf = {.fd = fd, .events = POLLIN};
      int r = poll(&pf, 1, timeout_ms);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) continue;
    }
    for (;;) {
      ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        nfq_handle_packet(h, buf, (int)n);
        continue;
      }
      /* ENOBUFS: the kernel dropped queue messages (a full socket buffer); keep going, as a full link would. */
      break;
    }
  }
  while (heap_len > 0) {
    struct held p = heap_pop();
    nfq_set_verdict(qh, p.id, NF_ACCEPT, 0, NULL);
    released++;
  }
  nfq_destroy_queue(qh);
  nfq_close(h);
  printf("trellis-delay-queue: stopped after %llu packets held\n", queued);
  return 0;
}
