/* _fastprobe: the hot loop of the eventops packet probe.
 *
 * Sends paced batches of UDP datagrams (UDP GSO where the kernel has it,
 * sendmmsg otherwise), writing a sequence number and a timestamp into every
 * datagram, and receives with UDP GRO + recvmmsg, accounting per datagram.
 * The accounting rules are exactly those of eventops.probe.datapath.PyAccountant;
 * tests feed one trace to both and compare.
 *
 * Accounting (sequence window W, a power of two; next = highest seq + 1):
 *   s >= next            : new; received++; next = s + 1
 *   next-W <= s < next   : seen before -> duplicated++;
 *                          else received++, reordered++ (RFC 4737: s < NextExp)
 *   s < next-W           : late++ only (beyond the window: it cannot be checked
 *                          for duplication, so it is never counted as received)
 *
 * All blocking functions release the GIL and stop when stop[0] != 0.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>

#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define FMT_EVENTOPS 0
#define FMT_IPERF3 1
#define EVO_MAGIC 0x45564f50u /* "EVOP" */
#define HDR_LEN 24
#define MAX_SEGS 64
#define RECV_VLEN 8
#define RECV_BUF 65536

static uint64_t now_ns(clockid_t c) {
    struct timespec ts;
    clock_gettime(c, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void put32(unsigned char *p, uint32_t v) {
    p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}
static void put64(unsigned char *p, uint64_t v) {
    put32(p, (uint32_t)(v >> 32)); put32(p + 4, (uint32_t)v);
}
static uint32_t get32(const unsigned char *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static uint64_t get64(const unsigned char *p) {
    return ((uint64_t)get32(p) << 32) | get32(p + 4);
}

/* ------------------------------------------------------------------ Accountant */

typedef struct {
    PyObject_HEAD
    uint64_t window;
    uint64_t mask;
    unsigned char *seen; /* one byte per slot: 1 = seq (slot) seen */
    uint64_t next;       /* highest seq + 1; 0 = nothing yet */
    int started;
    uint64_t received, duplicated, reordered, late;
    uint64_t max_extent; /* largest next-1-s of a reordered datagram */
} Accountant;

static void acct_feed_one(Accountant *a, uint64_t s) {
    if (!a->started || s >= a->next) {
        uint64_t from = a->started ? a->next : s;
        /* clear the slots that the window now reuses: from .. s */
        if (s - from + 1 >= a->window) {
            memset(a->seen, 0, a->window);
        } else {
            for (uint64_t q = from; q <= s; q++) a->seen[q & a->mask] = 0;
        }
        a->seen[s & a->mask] = 1;
        a->started = 1;
        a->next = s + 1;
        a->received++;
        return;
    }
    uint64_t dist = a->next - 1 - s;
    if (a->next - s <= a->window) {
        if (a->seen[s & a->mask]) {
            a->duplicated++;
            return;
        }
        a->seen[s & a->mask] = 1;
        a->received++;
        a->reordered++;
    } else {
        a->late++;
    }
    if (dist > a->max_extent) a->max_extent = dist;
}

static int Accountant_init(Accountant *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"window", NULL};
    unsigned long long window = 1ull << 20;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|K", kwlist, &window)) return -1;
    if (window < 2 || (window & (window - 1)) || window > (1ull << 28)) {
        PyErr_SetString(PyExc_ValueError, "window must be a power of two between 2 and 2**28");
        return -1;
    }
    PyMem_Free(self->seen);
    self->seen = PyMem_Calloc(window, 1);
    if (!self->seen) { PyErr_NoMemory(); return -1; }
    self->window = window;
    self->mask = window - 1;
    self->next = 0; self->started = 0;
    self->received = self->duplicated = self->reordered = self->late = self->max_extent = 0;
    return 0;
}

static void Accountant_dealloc(Accountant *self) {
    PyMem_Free(self->seen);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Accountant_feed(Accountant *self, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    if (view.len % 8) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "trace must be native uint64 values");
        return NULL;
    }
    const uint64_t *seqs = (const uint64_t *)view.buf;
    Py_ssize_t n = view.len / 8;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) acct_feed_one(self, seqs[i]);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    Py_RETURN_NONE;
}

static PyObject *Accountant_counters(Accountant *self, PyObject *unused) {
    return Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:L}", "received", self->received,
                         "duplicated", self->duplicated, "reordered", self->reordered,
                         "late", self->late, "max_reorder_extent", self->max_extent,
                         "highest_seq", self->started ? (long long)(self->next - 1) : -1LL);
}

static PyMethodDef Accountant_methods[] = {
    {"feed", (PyCFunction)Accountant_feed, METH_O, "Account a buffer of native uint64 sequence numbers."},
    {"counters", (PyCFunction)Accountant_counters, METH_NOARGS, "The counters as a dict."},
    {NULL}};

static PyTypeObject AccountantType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "eventops.probe._fastprobe.Accountant",
    .tp_basicsize = sizeof(Accountant),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Accountant_init,
    .tp_dealloc = (destructor)Accountant_dealloc,
    .tp_methods = Accountant_methods,
    .tp_doc = "Per-datagram accounting: received, duplicated, reordered (RFC 4737), late.",
};

/* ------------------------------------------------------------------ sender */

static void stamp(unsigned char *p, int fmt, uint32_t session, uint64_t seq) {
    if (fmt == FMT_IPERF3) {
        uint64_t t = now_ns(CLOCK_MONOTONIC);
        put32(p, (uint32_t)(t / 1000000000ull));
        put32(p + 4, (uint32_t)((t % 1000000000ull) / 1000));
        put32(p + 8, (uint32_t)seq);
    } else {
        put32(p, EVO_MAGIC);
        put32(p + 4, session);
        put64(p + 8, seq);
        put64(p + 16, now_ns(CLOCK_REALTIME));
    }
}

static int wait_fd(int fd, short ev, int ms) {
    struct pollfd p = {.fd = fd, .events = ev};
    return poll(&p, 1, ms);
}

/* send_stream(fd, fmt, size, pps, duration, seq0, session, batch, stop, per_ms)
 * -> (packets, bytes, next_seq, gso_used, elapsed_ns, err) */
#define CATCHUP_NUM 5
#define CATCHUP_DEN 4
#define MAX_BACKLOG_MS 100

/* Move the schedule's start forward by the time of `n` datagrams at `pps`. */
static void packets_base_shift(uint64_t *start, uint64_t n, double pps) {
    *start += (uint64_t)((double)n * 1e9 / pps);
}

static PyObject *send_stream(PyObject *mod, PyObject *args) {
    int fd, fmt, batch;
    Py_ssize_t size;
    double pps, duration;
    unsigned long long seq0;
    unsigned int session;
    Py_buffer stopv, perms;
    perms.buf = NULL;
    PyObject *perms_obj;
    if (!PyArg_ParseTuple(args, "iinddKIiw*O", &fd, &fmt, &size, &pps, &duration, &seq0,
                          &session, &batch, &stopv, &perms_obj))
        return NULL;
    if (perms_obj != Py_None) {
        if (PyObject_GetBuffer(perms_obj, &perms, PyBUF_WRITABLE) < 0) {
            PyBuffer_Release(&stopv);
            return NULL;
        }
    }
    int hdr = fmt == FMT_IPERF3 ? 12 : HDR_LEN;
    if (size < hdr || size > 65507 || batch < 1 || batch > MAX_SEGS) {
        PyBuffer_Release(&stopv);
        if (perms.buf) PyBuffer_Release(&perms);
        PyErr_SetString(PyExc_ValueError, "size or batch out of range");
        return NULL;
    }
    if ((Py_ssize_t)batch * size > 65507) batch = (int)(65507 / size);
    if (batch < 1) batch = 1;
    int cap = batch;
    if (pps > 0) {
        double per_ms = pps / 1000.0;
        if (per_ms < cap) cap = per_ms < 1.0 ? 1 : (int)per_ms;
    }
    unsigned char *buf = PyMem_Calloc((size_t)cap, (size_t)size);
    if (!buf) {
        PyBuffer_Release(&stopv);
        if (perms.buf) PyBuffer_Release(&perms);
        return PyErr_NoMemory();
    }
    /* after a stall the sender catches up at most CATCHUP_NUM/CATCHUP_DEN of the
     * target rate within any millisecond, and never more than MAX_BACKLOG_MS behind */
    uint64_t ms_limit = 0, max_backlog = 0;
    if (pps > 0) {
        double lim = pps / 1000.0 * CATCHUP_NUM / CATCHUP_DEN;
        ms_limit = lim < 1.0 ? 1 : (uint64_t)ceil(lim);
        max_backlog = (uint64_t)(pps / 1000.0 * MAX_BACKLOG_MS) + (uint64_t)cap;
    }
    uint64_t cur_ms = UINT64_MAX, in_ms = 0, sched;
    volatile unsigned char *stop = (volatile unsigned char *)stopv.buf;
    uint32_t *ms_buckets = perms.buf ? (uint32_t *)perms.buf : NULL;
    Py_ssize_t n_buckets = perms.buf ? perms.len / 4 : 0;
    uint64_t packets = 0, bytes = 0, seq = seq0;
    int gso = cap > 1, err = 0;
    uint64_t start, end, elapsed;
    Py_BEGIN_ALLOW_THREADS
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    start = now_ns(CLOCK_MONOTONIC);
    end = start + (uint64_t)(duration * 1e9);
    sched = start; /* the pacing schedule's origin (moves forward after a long stall) */
    struct mmsghdr msgs[MAX_SEGS];
    struct iovec iovs[MAX_SEGS];
    union { char buf[CMSG_SPACE(sizeof(uint16_t))]; struct cmsghdr align; } ctrl;
    for (;;) {
        if (stop[0]) break;
        uint64_t now = now_ns(CLOCK_MONOTONIC);
        if (now >= end) break;
        uint64_t n = (uint64_t)cap;
        if (pps > 0) {
            uint64_t due = (uint64_t)((double)(now - sched) * pps / 1e9) + 1;
            if (due <= packets) {
                uint64_t at = sched + (uint64_t)((double)packets * 1e9 / pps);
                if (at > end) at = end;
                struct timespec ts = {.tv_sec = at / 1000000000ull, .tv_nsec = at % 1000000000ull};
                clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
                continue;
            }
            if (due - packets > max_backlog) {
                /* a long stall: forget what cannot be caught up in time */
                packets_base_shift(&sched, due - packets - max_backlog, pps);
                due = packets + max_backlog;
            }
            uint64_t ms = (now - start) / 1000000ull;
            if (ms != cur_ms) { cur_ms = ms; in_ms = 0; }
            if (in_ms >= ms_limit) {
                uint64_t at = start + (ms + 1) * 1000000ull;
                struct timespec ts = {.tv_sec = at / 1000000000ull, .tv_nsec = at % 1000000000ull};
                clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
                continue;
            }
            n = due - packets;
            if (n > (uint64_t)cap) n = (uint64_t)cap;
            if (n > ms_limit - in_ms) n = ms_limit - in_ms;
        }
        for (uint64_t i = 0; i < n; i++) stamp(buf + i * size, fmt, session, seq + i);
        ssize_t r;
        uint64_t sent_now = 0;
        if (gso && n > 1) {
            struct iovec iov = {.iov_base = buf, .iov_len = (size_t)(n * size)};
            struct msghdr m = {0};
            m.msg_iov = &iov; m.msg_iovlen = 1;
            m.msg_control = ctrl.buf; m.msg_controllen = sizeof(ctrl.buf);
            struct cmsghdr *c = CMSG_FIRSTHDR(&m);
            c->cmsg_level = SOL_UDP; c->cmsg_type = UDP_SEGMENT;
            c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
            uint16_t seg = (uint16_t)size;
            memcpy(CMSG_DATA(c), &seg, sizeof seg);
            r = sendmsg(fd, &m, 0);
            if (r < 0 && (errno == EIO || errno == EINVAL || errno == EOPNOTSUPP || errno == ENOPROTOOPT)) {
                gso = 0; /* no GSO here: fall back to sendmmsg */
                continue;
            }
            if (r >= 0) sent_now = n;
        } else if (n > 1) {
            for (uint64_t i = 0; i < n; i++) {
                iovs[i].iov_base = buf + i * size; iovs[i].iov_len = (size_t)size;
                memset(&msgs[i], 0, sizeof msgs[i]);
                msgs[i].msg_hdr.msg_iov = &iovs[i]; msgs[i].msg_hdr.msg_iovlen = 1;
            }
            r = sendmmsg(fd, msgs, (unsigned)n, 0);
            if (r > 0) sent_now = (uint64_t)r;
        } else {
            r = send(fd, buf, (size_t)size, 0);
            if (r >= 0) sent_now = 1;
        }
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
                wait_fd(fd, POLLOUT, 5);
                continue;
            }
            if (errno == EINTR) continue;
            err = errno;
            break;
        }
        if (ms_buckets) {
            uint64_t idx = (now - start) / 1000000ull;
            if ((Py_ssize_t)idx < n_buckets) ms_buckets[idx] += (uint32_t)sent_now;
        }
        packets += sent_now;
        in_ms += sent_now;
        bytes += sent_now * (uint64_t)size;
        seq += sent_now;
    }
    elapsed = now_ns(CLOCK_MONOTONIC) - start;
    Py_END_ALLOW_THREADS
    PyMem_Free(buf);
    PyBuffer_Release(&stopv);
    if (perms.buf) PyBuffer_Release(&perms);
    return Py_BuildValue("KKKOKi", packets, bytes, (unsigned long long)seq,
                         gso ? Py_True : Py_False, elapsed, err);
}

/* ------------------------------------------------------------------ receiver */

/* recv_stream(fd, acct, fmt, session, stop, timeout_s, trace)
 * -> (datagrams, bytes, foreign, recorded, err)
 * Returns when stop[0] is set or after timeout_s. trace: writable buffer of
 * native uint64 that records the received sequence numbers, or None. */
static PyObject *recv_stream(PyObject *mod, PyObject *args) {
    int fd, fmt;
    unsigned int session;
    Accountant *acct;
    Py_buffer stopv, tracev;
    PyObject *trace_obj;
    double timeout;
    tracev.buf = NULL;
    if (!PyArg_ParseTuple(args, "iO!iIw*dO", &fd, &AccountantType, &acct, &fmt, &session, &stopv,
                          &timeout, &trace_obj))
        return NULL;
    if (trace_obj != Py_None && PyObject_GetBuffer(trace_obj, &tracev, PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(&stopv);
        return NULL;
    }
    int one = 1;
    int gro = setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one) == 0;
    (void)gro;
    unsigned char *bufs = PyMem_Malloc((size_t)RECV_VLEN * RECV_BUF);
    if (!bufs) {
        PyBuffer_Release(&stopv);
        if (tracev.buf) PyBuffer_Release(&tracev);
        return PyErr_NoMemory();
    }
    Py_INCREF(acct);
    volatile unsigned char *stop = (volatile unsigned char *)stopv.buf;
    uint64_t *trace = tracev.buf ? (uint64_t *)tracev.buf : NULL;
    Py_ssize_t trace_cap = tracev.buf ? tracev.len / 8 : 0, recorded = 0;
    uint64_t datagrams = 0, bytes = 0, foreign = 0;
    int err = 0;
    int hdr = fmt == FMT_IPERF3 ? 12 : HDR_LEN;
    Py_BEGIN_ALLOW_THREADS
    uint64_t end = now_ns(CLOCK_MONOTONIC) + (uint64_t)(timeout * 1e9);
    struct mmsghdr msgs[RECV_VLEN];
    struct iovec iovs[RECV_VLEN];
    /* room for the GRO segment size and any other control message enabled on the socket */
    union { char buf[256]; struct cmsghdr align; } ctrl[RECV_VLEN];
    while (!stop[0] && now_ns(CLOCK_MONOTONIC) < end) {
        for (int i = 0; i < RECV_VLEN; i++) {
            iovs[i].iov_base = bufs + (size_t)i * RECV_BUF; iovs[i].iov_len = RECV_BUF;
            memset(&msgs[i], 0, sizeof msgs[i]);
            msgs[i].msg_hdr.msg_iov = &iovs[i]; msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_control = ctrl[i].buf;
            msgs[i].msg_hdr.msg_controllen = sizeof ctrl[i].buf;
        }
        int r = recvmmsg(fd, msgs, RECV_VLEN, MSG_DONTWAIT, NULL);
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                wait_fd(fd, POLLIN, 5);
                continue;
            }
            if (errno == ECONNREFUSED) continue; /* stale ICMP from an earlier peer */
            err = errno;
            break;
        }
        for (int i = 0; i < r; i++) {
            size_t len = msgs[i].msg_len, seg = len;
            struct msghdr *m = &msgs[i].msg_hdr;
            for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
                if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
                    int g;
                    memcpy(&g, CMSG_DATA(c), sizeof g);
                    if (g > 0) seg = (size_t)g;
                }
            }
            const unsigned char *p = bufs + (size_t)i * RECV_BUF;
            for (size_t off = 0; off < len; off += seg) {
                size_t dl = len - off < seg ? len - off : seg;
                const unsigned char *d = p + off;
                uint64_t s;
                if ((int)dl < hdr) { foreign++; continue; }
                if (fmt == FMT_IPERF3) {
                    s = get32(d + 8);
                } else {
                    if (get32(d) != EVO_MAGIC || get32(d + 4) != session) { foreign++; continue; }
                    s = get64(d + 8);
                }
                acct_feed_one(acct, s);
                if (recorded < trace_cap) trace[recorded++] = s;
                datagrams++;
                bytes += dl;
            }
        }
    }
    Py_END_ALLOW_THREADS
    Py_DECREF(acct);
    PyMem_Free(bufs);
    PyBuffer_Release(&stopv);
    if (tracev.buf) PyBuffer_Release(&tracev);
    return Py_BuildValue("KKKni", datagrams, bytes, foreign, recorded, err);
}

static PyMethodDef methods[] = {
    {"send_stream", send_stream, METH_VARARGS, "Send a paced, batched UDP stream."},
    {"recv_stream", recv_stream, METH_VARARGS, "Receive and account a UDP stream."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef moddef = {PyModuleDef_HEAD_INIT, "_fastprobe",
                                    "Compiled hot loop of the eventops probe.", -1, methods};

PyMODINIT_FUNC PyInit__fastprobe(void) {
    if (PyType_Ready(&AccountantType) < 0) return NULL;
    PyObject *m = PyModule_Create(&moddef);
    if (!m) return NULL;
    Py_INCREF(&AccountantType);
    if (PyModule_AddObject(m, "Accountant", (PyObject *)&AccountantType) < 0) {
        Py_DECREF(&AccountantType);
        Py_DECREF(m);
        return NULL;
    }
    PyModule_AddIntConstant(m, "FMT_EVENTOPS", FMT_EVENTOPS);
    PyModule_AddIntConstant(m, "FMT_IPERF3", FMT_IPERF3);
    PyModule_AddIntConstant(m, "HEADER_LEN", HDR_LEN);
    return m;
}
