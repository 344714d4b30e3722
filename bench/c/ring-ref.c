/*
 * The C reference of pvscsi's goal table: Xen's own io/ring.h macros over a vscsiif ring
 * (DEFINE_RING_TYPES(vscsiif, ...) in io/vscsiif.h, 252-byte entries, 16 slots in a page),
 * a frontend pthread and a backend pthread, moving null requests (no data, no grants) the way
 * scsifront and scsiback move them:
 *
 *   poll   both threads spin on the ring's indices; no event channel (RING_PUSH_* only).
 *   event  each thread sleeps on a futex "event channel" when it has no work, and the other
 *          side signals it only when ring.h says so: RING_PUSH_*_AND_CHECK_NOTIFY before a
 *          send, RING_FINAL_CHECK_FOR_* (which re-arms req_event/rsp_event) before a sleep.
 *          A send is a store and a FUTEX_WAKE system call, as EVTCHNOP_send is a hypercall.
 *   lat    event mode at queue depth 1: each request's round trip (push, wake the backend,
 *          its response, wake the frontend), timed with CLOCK_MONOTONIC; p50/p99/p99.9.
 *
 * Usage: ring-ref poll|event|lat <seconds> [depth]. Prints one JSON line. Built by the bench
 * (bench/_c-ref.ts) with gcc -O2 -pthread against /usr/include/xen.
 */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ring.h leaves the barriers to its includer; these are xenctrl.h's (tools/include/xenctrl.h). */
#if defined(__x86_64__) || defined(__i386__)
#define xen_barrier() asm volatile("" ::: "memory")
#define xen_mb() asm volatile("mfence" ::: "memory")
#define xen_rmb() xen_barrier()
#define xen_wmb() xen_barrier()
#define cpu_relax() __builtin_ia32_pause()
#else
#define xen_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#define cpu_relax() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif
#define XEN_PAGE_SIZE 4096

#include <xen/xen.h>
#include <xen/io/vscsiif.h>

struct evtchn {
  int pending; /* set by a send, cleared by the receiver */
  long sends;  /* sends made to this channel (each a FUTEX_WAKE) */
  long sleeps; /* FUTEX_WAITs the receiver entered */
} __attribute__((aligned(64)));

static void evtchn_send(struct evtchn *e) {
  __atomic_store_n(&e->pending, 1, __ATOMIC_SEQ_CST);
  __atomic_fetch_add(&e->sends, 1, __ATOMIC_RELAXED);
  syscall(SYS_futex, &e->pending, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Sleep until the channel is pending, then clear it. */
static void evtchn_wait(struct evtchn *e) {
  while (__atomic_exchange_n(&e->pending, 0, __ATOMIC_SEQ_CST) == 0) {
    e->sleeps++;
    syscall(SYS_futex, &e->pending, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
  }
}

enum mode { POLL, EVENT, LAT };
static enum mode mode;
static double seconds;
static int depth = 16;
static void *page;
static struct evtchn to_back, to_front;
static volatile int stop;
static long served;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static const uint8_t CDB[16] = {0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0};

static void fill_request(vscsiif_front_ring_t *f, uint16_t id) {
  struct vscsiif_request *r = RING_GET_REQUEST(f, f->req_prod_pvt);
  r->rqid = id;
  r->act = VSCSIIF_ACT_SCSI_CDB;
  r->cmd_len = 10;
  memcpy(r->cmnd, CDB, sizeof r->cmnd);
  r->timeout_per_command = 0;
  r->channel = 0;
  r->id = 0;
  r->lun = 0;
  r->ref_rqid = 0;
  r->sc_data_direction = 3; /* DMA_NONE: null requests */
  r->nr_segments = 0;
  f->req_prod_pvt++;
}

static void *backend(void *arg) {
  (void)arg;
  vscsiif_back_ring_t b;
  BACK_RING_INIT(&b, (vscsiif_sring_t *)page, XEN_PAGE_SIZE);
  struct vscsiif_request req;
  for (;;) {
    RING_IDX rc = b.req_cons, rp = b.sring->req_prod;
    xen_rmb();
    while (rc != rp) {
      RING_COPY_REQUEST(&b, rc, &req); /* one copy out of shared memory, as XSA-155 asks */
      b.req_cons = ++rc;
      struct vscsiif_response *s = RING_GET_RESPONSE(&b, b.rsp_prod_pvt);
      memset(s, 0, sizeof *s); /* every byte of the slot written (XSA-216) */
      s->rqid = req.rqid;
      s->rslt = 0;
      b.rsp_prod_pvt++;
      served++;
    }
    if (mode == POLL) {
      RING_PUSH_RESPONSES(&b);
      if (stop) return NULL;
      cpu_relax();
      continue;
    }
    int notify;
    RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&b, notify);
    if (notify) evtchn_send(&to_front);
    if (stop) return NULL;
    int more;
    RING_FINAL_CHECK_FOR_REQUESTS(&b, more);
    if (!more) evtchn_wait(&to_back);
  }
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s poll|event|lat <seconds> [depth]\n", argv[0]);
    return 2;
  }
  mode = !strcmp(argv[1], "poll") ? POLL : !strcmp(argv[1], "event") ? EVENT : !strcmp(argv[1], "lat") ? LAT : -1;
  if ((int)mode < 0) {
    fprintf(stderr, "unknown mode %s\n", argv[1]);
    return 2;
  }
  seconds = atof(argv[2]);
  if (argc > 3) depth = atoi(argv[3]);
  if (mode == LAT) depth = 1;
  if (posix_memalign(&page, XEN_PAGE_SIZE, XEN_PAGE_SIZE)) return 1;
  vscsiif_front_ring_t f;
  SHARED_RING_INIT((vscsiif_sring_t *)page);
  FRONT_RING_INIT(&f, (vscsiif_sring_t *)page, XEN_PAGE_SIZE);
  if (depth < 1 || (unsigned)depth > RING_SIZE(&f)) depth = RING_SIZE(&f);
  pthread_t bt;
  pthread_create(&bt, NULL, backend, NULL);

  size_t cap = 1 << 22, nlat = 0;
  uint64_t *lat = mode == LAT ? malloc(cap * sizeof *lat) : NULL;
  long sent = 0, done = 0, next_check = 256;
  int inflight = 0;
  struct timespec t0, t1;
  double start = now(), deadline = start + seconds;
  int timing = 1;
  while (timing || inflight > 0) {
    int pushed = 0;
    if (mode == LAT && timing) clock_gettime(CLOCK_MONOTONIC, &t0);
    while (timing && inflight < depth) {
      fill_request(&f, (uint16_t)(sent & 0xffff));
      sent++;
      inflight++;
      pushed = 1;
    }
    if (pushed) {
      if (mode == POLL) RING_PUSH_REQUESTS(&f);
      else {
        int notify;
        RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&f, notify);
        if (notify) evtchn_send(&to_back);
      }
    }
    int got = 0;
    for (;;) {
      RING_IDX rc = f.rsp_cons, rp = f.sring->rsp_prod;
      xen_rmb();
      while (rc != rp) {
        struct vscsiif_response rsp;
        RING_COPY_RESPONSE(&f, rc, &rsp);
        if (rsp.rslt != 0) abort();
        rc++;
        got++;
      }
      f.rsp_cons = rc;
      if (got > 0 || mode == POLL) break;
      int more;
      RING_FINAL_CHECK_FOR_RESPONSES(&f, more);
      if (!more) evtchn_wait(&to_front);
    }
    if (mode == POLL && got == 0) cpu_relax();
    if (got > 0 && mode == LAT) {
      clock_gettime(CLOCK_MONOTONIC, &t1);
      if (nlat < cap)
        lat[nlat++] = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ull + (uint64_t)(t1.tv_nsec - t0.tv_nsec);
    }
    inflight -= got;
    done += got;
    if (timing && done >= next_check) { /* the clock read every 256 completions */
      next_check = done + 256;
      if (now() >= deadline) timing = 0;
    }
  }
  double elapsed = now() - start;
  stop = 1;
  evtchn_send(&to_back);
  pthread_join(bt, NULL);
  printf("{\"mode\":\"%s\",\"depth\":%d,\"ringSize\":%u,\"requests\":%ld,\"seconds\":%.6f,\"rps\":%.1f,"
         "\"sendsToBack\":%ld,\"sendsToFront\":%ld,\"backSleeps\":%ld,\"frontSleeps\":%ld",
         argv[1], depth, RING_SIZE(&f), done, elapsed, done / elapsed, to_back.sends, to_front.sends,
         to_back.sleeps, to_front.sleeps);
  if (mode == LAT && nlat > 0) {
    qsort(lat, nlat, sizeof *lat, cmp_u64);
    /* fio's clat percentiles: the sample at rank ceil(p * n) */
#define PCT(p) lat[(size_t)((p) * nlat + 0.999999) > 0 ? (size_t)((p) * nlat + 0.999999) - 1 : 0]
    printf(",\"samples\":%zu,\"p50_ns\":%llu,\"p99_ns\":%llu,\"p99_9_ns\":%llu,\"max_ns\":%llu", nlat,
           (unsigned long long)PCT(0.50), (unsigned long long)PCT(0.99), (unsigned long long)PCT(0.999),
           (unsigned long long)lat[nlat - 1]);
  }
  printf("}\n");
  if (served != done) {
    fprintf(stderr, "backend served %ld, frontend completed %ld\n", served, done);
    return 1;
  }
  return 0;
}
