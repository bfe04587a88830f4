/* The search's hot loops in C: the same algorithms as evaluate.py's pure-Python reference,
 * step for step, so that both give the same numbers (tests/routing/test_native.py compares
 * them on random plans).
 *
 * What is here, each called from evaluate.State when the module is built:
 * - compile(...)      the problem's flat arrays, kept in C for the life of a Data;
 * - scan(...)         every place of one visit in one route (State.scan);
 * - quick(...)        estimates and bounds for every place (State.quick);
 * - schedule(...)     the least fixed point of the times of the whole plan (State.schedule);
 * - propagate(...)    the push of an insertion across routes (the loop of State.trial);
 * - pair_search(...)  a linked pair's best place, its trials made here (repair._best_pair);
 * - apply(...)        an insertion's new times and routes put in the plan (State.insert);
 * - costs(...)        what each visit costs where it is (destroy._costs).
 *
 * Plans stay Python lists (routes, start times, each node's route): reading a list item from C
 * costs a few nanoseconds, copying the plan into C arrays at every call would cost more than it
 * saves. Nothing here keeps a reference to a plan between calls.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EPS 1e-9
#define HARD_EPS 1e-7

typedef struct {
    int n, m, N, nloc;
    int *loc;
    double *dur, *open, *close;
    char *hard;
    int *partner;
    double *lw;
    double *T, *D; /* nloc * nloc */
    double *sstart, *send;
    int *cstart, *cend;
    /* for the terms and the delta of a move */
    int *pref, *prev, *pin_pos, *maxv;
    double *demand, *cap;
    double w_travel, w_late, w_max, w_cont, w_over, w_unassigned, w_stab;
    int any_capacity;
    /* scratch for propagate: node-indexed, stamped so they need no clearing */
    double *nt;
    int *par, *nt_stamp, *order, *work;
    int work_cap;
    int stamp;
    /* scratch for a trial: the inserted visits' clinicians (node-indexed, -1 when not
     * inserted), each changed route's sticky position (-1 when none), the times back at the
     * end, and two route buffers for the pair search's new routes */
    int *placed_k, *hold_k, *back_order, *buf_a, *buf_b;
    double *back;
    char *has_back;
} Compiled;

static const char *CAPSULE = "careway.routing.native";

static void compiled_free(PyObject *capsule) {
    Compiled *c = (Compiled *)PyCapsule_GetPointer(capsule, CAPSULE);
    if (c == NULL) return;
    free(c->loc); free(c->dur); free(c->open); free(c->close); free(c->hard);
    free(c->partner); free(c->lw); free(c->T); free(c->D); free(c->sstart); free(c->send);
    free(c->cstart); free(c->cend); free(c->nt); free(c->par); free(c->nt_stamp);
    free(c->order); free(c->work);
    free(c->placed_k); free(c->hold_k); free(c->back_order); free(c->buf_a); free(c->buf_b);
    free(c->back); free(c->has_back);
    free(c->pref); free(c->prev); free(c->pin_pos); free(c->maxv); free(c->demand); free(c->cap);
    free(c);
}

static inline double as_double(PyObject *o) {
    if (PyFloat_CheckExact(o)) return PyFloat_AS_DOUBLE(o);
    return PyFloat_AsDouble(o);
}

static inline long as_long(PyObject *o) { return PyLong_AsLong(o); }

/* A list of numbers into a new C array; NULL with an exception set on error. */
static double *doubles(PyObject *seq, Py_ssize_t want, const char *what) {
    PyObject *fast = PySequence_Fast(seq, what);
    if (fast == NULL) return NULL;
    Py_ssize_t size = PySequence_Fast_GET_SIZE(fast);
    if (size != want) {
        Py_DECREF(fast);
        PyErr_Format(PyExc_ValueError, "%s: %zd values, %zd expected", what, size, want);
        return NULL;
    }
    double *out = malloc(sizeof(double) * (size_t)(want > 0 ? want : 1));
    for (Py_ssize_t i = 0; i < size; i++) out[i] = as_double(PySequence_Fast_GET_ITEM(fast, i));
    Py_DECREF(fast);
    if (PyErr_Occurred()) { free(out); return NULL; }
    return out;
}

static int *ints(PyObject *seq, Py_ssize_t want, const char *what) {
    PyObject *fast = PySequence_Fast(seq, what);
    if (fast == NULL) return NULL;
    Py_ssize_t size = PySequence_Fast_GET_SIZE(fast);
    if (size != want) {
        Py_DECREF(fast);
        PyErr_Format(PyExc_ValueError, "%s: %zd values, %zd expected", what, size, want);
        return NULL;
    }
    int *out = malloc(sizeof(int) * (size_t)(want > 0 ? want : 1));
    for (Py_ssize_t i = 0; i < size; i++) out[i] = (int)as_long(PySequence_Fast_GET_ITEM(fast, i));
    Py_DECREF(fast);
    if (PyErr_Occurred()) { free(out); return NULL; }
    return out;
}

/* compile(n, m, loc, dur, open, close, hard, partner, lw, T, D, sstart, send, cstart, cend,
 *         pref, prev, pin_pos, demand, maxv, cap, weights)
 * T and D: lists of rows (nloc x nloc). Node-indexed lists have n + m entries; pref, pin_pos
 * and demand n; maxv and cap m (cap: inf for none). weights: (travel, late, max, continuity,
 * overtime, unassigned, reassigned). */
static PyObject *native_compile(PyObject *self, PyObject *args) {
    int n, m;
    PyObject *loc, *dur, *open, *close, *hard, *partner, *lw, *T, *D, *sstart, *send, *cstart,
        *cend, *pref, *prev, *pin_pos, *demand, *maxv, *capv;
    double w[7];
    if (!PyArg_ParseTuple(args, "iiOOOOOOOOOOOOOOOOOOO(ddddddd)", &n, &m, &loc, &dur, &open,
                          &close, &hard, &partner, &lw, &T, &D, &sstart, &send, &cstart, &cend,
                          &pref, &prev, &pin_pos, &demand, &maxv, &capv, &w[0], &w[1], &w[2],
                          &w[3], &w[4], &w[5], &w[6]))
        return NULL;
    Compiled *c = calloc(1, sizeof(Compiled));
    c->w_travel = w[0]; c->w_late = w[1]; c->w_max = w[2]; c->w_cont = w[3];
    c->w_over = w[4]; c->w_unassigned = w[5]; c->w_stab = w[6];
    c->n = n; c->m = m; c->N = n + m;
    int N = n + m;
    Py_ssize_t nloc = PySequence_Size(T);
    if (nloc < 0) { free(c); return NULL; }
    c->nloc = (int)nloc;
    PyObject *capsule = PyCapsule_New(c, CAPSULE, compiled_free);
    if (capsule == NULL) { free(c); return NULL; }
    int *hard_i;
    if (!(c->loc = ints(loc, N, "loc")) || !(c->dur = doubles(dur, N, "dur")) ||
        !(c->open = doubles(open, N, "open")) || !(c->close = doubles(close, N, "close")) ||
        !(hard_i = ints(hard, N, "hard"))) {
        Py_DECREF(capsule);
        return NULL;
    }
    c->hard = malloc((size_t)N + 1);
    for (int i = 0; i < N; i++) c->hard[i] = (char)(hard_i[i] != 0);
    free(hard_i);
    if (!(c->partner = ints(partner, N, "partner")) || !(c->lw = doubles(lw, N, "lw")) ||
        !(c->sstart = doubles(sstart, m, "sstart")) || !(c->send = doubles(send, m, "send")) ||
        !(c->cstart = ints(cstart, m, "cstart")) || !(c->cend = ints(cend, m, "cend")) ||
        !(c->pref = ints(pref, n, "pref")) || !(c->prev = ints(prev, n, "prev")) || !(c->pin_pos = ints(pin_pos, n, "pin_pos")) ||
        !(c->demand = doubles(demand, n, "demand")) || !(c->maxv = ints(maxv, m, "maxv")) ||
        !(c->cap = doubles(capv, m, "cap"))) {
        Py_DECREF(capsule);
        return NULL;
    }
    for (int k = 0; k < m; k++)
        if (c->cap[k] < INFINITY) c->any_capacity = 1;
    c->T = malloc(sizeof(double) * (size_t)(nloc * nloc + 1));
    c->D = malloc(sizeof(double) * (size_t)(nloc * nloc + 1));
    for (int pass = 0; pass < 2; pass++) {
        PyObject *M = pass == 0 ? T : D;
        double *out = pass == 0 ? c->T : c->D;
        for (Py_ssize_t i = 0; i < nloc; i++) {
            PyObject *row = PySequence_GetItem(M, i);
            if (row == NULL) { Py_DECREF(capsule); return NULL; }
            double *vals = doubles(row, nloc, "a row of the travel matrix");
            Py_DECREF(row);
            if (vals == NULL) { Py_DECREF(capsule); return NULL; }
            memcpy(out + i * nloc, vals, sizeof(double) * (size_t)nloc);
            free(vals);
        }
    }
    for (int i = 0; i < N; i++) {
        if (c->loc[i] >= (int)nloc || (i < n && c->loc[i] < 0) || c->partner[i] >= N) {
            Py_DECREF(capsule);
            PyErr_Format(PyExc_ValueError, "node %d: location or partner out of range", i);
            return NULL;
        }
    }
    c->nt = calloc((size_t)N + 1, sizeof(double));
    c->par = calloc((size_t)N + 1, sizeof(int));
    c->nt_stamp = calloc((size_t)N + 1, sizeof(int));
    c->order = calloc((size_t)N + 1, sizeof(int));
    c->work_cap = 2 * N + 16;
    c->work = calloc((size_t)c->work_cap * 2, sizeof(int));
    c->placed_k = malloc(sizeof(int) * ((size_t)N + 1));
    for (int i = 0; i <= N; i++) c->placed_k[i] = -1;
    c->hold_k = malloc(sizeof(int) * ((size_t)m + 1));
    for (int k = 0; k <= m; k++) c->hold_k[k] = -1;
    c->back_order = calloc((size_t)m + 1, sizeof(int));
    c->back = calloc((size_t)m + 1, sizeof(double));
    c->has_back = calloc((size_t)m + 1, 1);
    c->buf_a = calloc((size_t)N + 3, sizeof(int));
    c->buf_b = calloc((size_t)N + 3, sizeof(int));
    return capsule;
}

static Compiled *get(PyObject *capsule) {
    return (Compiled *)PyCapsule_GetPointer(capsule, CAPSULE);
}

#define TT(c, a, b) ((c)->T[(size_t)(a) * (c)->nloc + (b)])
#define DD(c, a, b) ((c)->D[(size_t)(a) * (c)->nloc + (b)])
#define ITEM(list, i) PyList_GET_ITEM((list), (i))
#define TIME(list, i) as_double(ITEM((list), (i)))
#define INT(list, i) ((int)PyLong_AsLong(ITEM((list), (i))))

#define SMALL 64 /* a route this long or shorter needs no heap for its frame */

/* For each position p of a route (0..L): when the clinician is free before it, where they are,
 * and the next place after it (State._frame). */
typedef struct {
    Py_ssize_t L;
    double *frees;
    int *heres, *nexts;
    double frees_s[SMALL + 1];
    int heres_s[SMALL + 1], nexts_s[SMALL + 1];
} Frame;

static void frame_open(Compiled *c, Frame *f, PyObject *nodes, PyObject *t, int k) {
    Py_ssize_t L = f->L = PyList_GET_SIZE(nodes);
    f->frees = f->frees_s;
    f->heres = f->heres_s;
    f->nexts = f->nexts_s;
    if (L > SMALL) {
        f->frees = malloc(sizeof(double) * (size_t)(L + 1));
        f->heres = malloc(sizeof(int) * (size_t)(L + 1));
        f->nexts = malloc(sizeof(int) * (size_t)(L + 1));
    }
    double free_ = c->sstart[k];
    int here = c->cstart[k];
    for (Py_ssize_t j = 0; j < L; j++) {
        f->frees[j] = free_;
        f->heres[j] = here;
        int x = INT(nodes, j);
        free_ = TIME(t, x) + c->dur[x];
        if (x < c->n) here = c->loc[x];
    }
    f->frees[L] = free_;
    f->heres[L] = here;
    int nxt = c->cend[k];
    f->nexts[L] = nxt;
    for (Py_ssize_t j = L - 1; j >= 0; j--) {
        int x = INT(nodes, j);
        if (x < c->n) nxt = c->loc[x];
        f->nexts[j] = nxt;
    }
}

static void frame_close(Frame *f) {
    if (f->L > SMALL) {
        free(f->frees);
        free(f->heres);
        free(f->nexts);
    }
}

/* The constant part of putting visit v in route k: the credit for placing it, continuity and
 * stability (as State.scan and State.quick work it out). */
static double route_const(Compiled *c, int v, int k) {
    double cst = -c->w_unassigned;
    if (c->pref[v] >= 0 && c->pref[v] != k) cst += c->w_cont;
    if (c->prev[v] >= 0 && c->prev[v] != k) cst += c->w_stab;
    return cst;
}

typedef struct {
    double cost, low, base, worst, tr, c;
    int k, p, exact;
} Place;

typedef struct {
    Place *items;
    Py_ssize_t size, cap;
} Places;

static void places_add(Places *ps, Place item) {
    if (ps->size >= ps->cap) {
        ps->cap = ps->cap ? 2 * ps->cap : 64;
        ps->items = realloc(ps->items, sizeof(Place) * (size_t)ps->cap);
    }
    ps->items[ps->size++] = item;
}

/* Every feasible place of visit v in route k (State.scan's loop), appended to `out` with base,
 * worst, position, travel and exact set. */
static void scan_route(Compiled *c, PyObject *nodes, PyObject *t, PyObject *rk, int v, int k,
                       double cutoff, double cst, double old_over, int nreal, Places *out) {
    double wt = c->w_travel, wl = c->w_late, wo = c->w_over;
    Frame f;
    frame_open(c, &f, nodes, t, k);
    Py_ssize_t L = f.L;
    double *frees = f.frees;
    int *heres = f.heres, *nexts = f.nexts;
    int n = c->n;
    int lv = c->loc[v];
    double dv = c->dur[v], ov = c->open[v], cv = c->close[v];
    int hv = c->hard[v];
    double send = c->send[k];
    int cend = c->cend[k];
    for (Py_ssize_t p = 0; p <= L; p++) {
        int a = heres[p], b = nexts[p];
        double tr = nreal ? DD(c, a, lv) + DD(c, lv, b) - DD(c, a, b) : DD(c, a, lv) + DD(c, lv, b);
        tr *= wt;
        if (tr + cst >= cutoff) continue;
        double st = frees[p] + TT(c, a, lv);
        if (st < ov) st = ov;
        if (hv && st > cv + HARD_EPS) continue;
        double late = st > cv ? st - cv : 0.0;
        double dl = late, worst = late;
        double free_ = st + dv;
        int here = lv;
        Py_ssize_t j = p;
        int ok = 1, exact = 1, ended = 1;
        while (j < L) {
            int x = INT(nodes, j);
            double ox = TIME(t, x);
            if (x >= n) {
                if (free_ > ox + EPS) {
                    if (free_ > c->close[x] + HARD_EPS) { ok = 0; break; }
                    free_ += c->dur[x];
                } else {
                    free_ = ox + c->dur[x];
                }
                j++;
                continue;
            }
            double arr = free_ + TT(c, here, c->loc[x]);
            if (arr <= ox + EPS) { ended = 0; break; }
            int z = c->partner[x];
            if (z >= 0 && INT(rk, z) >= 0 && TIME(t, z) < arr + c->lw[z] - EPS) exact = 0;
            if (c->hard[x] && arr > c->close[x] + HARD_EPS) { ok = 0; break; }
            double cx = c->close[x];
            if (arr > cx) {
                dl += arr - cx - (ox > cx ? ox - cx : 0.0);
                if (arr - cx > worst) worst = arr - cx;
            }
            free_ = arr + c->dur[x];
            here = c->loc[x];
            j++;
        }
        if (!ok) continue;
        double base = tr + cst + wl * dl;
        if (ended) {
            double back = free_ + TT(c, here, cend);
            double over = back > send ? back - send : 0.0;
            base += wo * (over - old_over);
        }
        Place item = {0.0, 0.0, base, worst, tr, cst, k, (int)p, exact};
        places_add(out, item);
    }
    frame_close(&f);
}

/* scan(compiled, nodes, t, rk, v, k, cutoff, const, old_over, nreal)
 *   -> [(base, worst, position, travel, exact)] */
static PyObject *native_scan(PyObject *self, PyObject *args) {
    PyObject *cap, *nodes, *t, *rk;
    int v, k, nreal;
    double cutoff, cst, old_over;
    if (!PyArg_ParseTuple(args, "OO!O!O!iidddi", &cap, &PyList_Type, &nodes, &PyList_Type, &t,
                          &PyList_Type, &rk, &v, &k, &cutoff, &cst, &old_over, &nreal))
        return NULL;
    Compiled *c = get(cap);
    if (c == NULL) return NULL;
    Places ps = {NULL, 0, 0};
    scan_route(c, nodes, t, rk, v, k, cutoff, cst, old_over, nreal, &ps);
    PyObject *out = NULL;
    if (!PyErr_Occurred()) out = PyList_New(ps.size);
    for (Py_ssize_t i = 0; out != NULL && i < ps.size; i++) {
        Place *q = &ps.items[i];
        PyObject *row = Py_BuildValue("(ddidO)", q->base, q->worst, q->p, q->tr,
                                      q->exact ? Py_True : Py_False);
        if (row == NULL) { Py_CLEAR(out); break; }
        PyList_SET_ITEM(out, i, row);
    }
    free(ps.items);
    return out;
}

static int cmp_double(double a, double b) { return a < b ? -1 : (a > b ? 1 : 0); }

/* The order of repair._singles's tuples (cost, low, k, p, base, worst, c). */
static int cmp_place(const void *pa, const void *pb) {
    const Place *a = pa, *b = pb;
    int r;
    if ((r = cmp_double(a->cost, b->cost))) return r;
    if ((r = cmp_double(a->low, b->low))) return r;
    if (a->k != b->k) return a->k < b->k ? -1 : 1;
    if (a->p != b->p) return a->p < b->p ? -1 : 1;
    if ((r = cmp_double(a->base, b->base))) return r;
    if ((r = cmp_double(a->worst, b->worst))) return r;
    return cmp_double(a->c, b->c);
}

/* Whether route k may take visit v at all (State.scan's first checks, skill aside). */
static int may_take(Compiled *c, PyObject *nreal, PyObject *load, int v, int k) {
    if (INT(nreal, k) >= c->maxv[k]) return 0;
    if (c->any_capacity && TIME(load, k) + c->demand[v] > c->cap[k] + 1e-9) return 0;
    return 1;
}

/* Every place of visit v in route k, its constant part and the route's overtime taken into
 * account (the set-up State.scan does before its loop). */
static void scan_in(Compiled *c, PyObject *R, PyObject *t, PyObject *rk, PyObject *nreal,
                    PyObject *ret, int v, int k, double cutoff, Places *ps) {
    double cst = route_const(c, v, k);
    int nr_k = INT(nreal, k);
    double send = c->send[k], back = TIME(ret, k);
    double old_over = nr_k && back > send ? back - send : 0.0;
    scan_route(c, PyList_GET_ITEM(R, k), t, rk, v, k, cutoff, cst, old_over, nr_k, ps);
}

/* Every place of visit v in the routes given, with cost and low set, sorted as
 * repair._singles sorts its tuples. */
static void collect_singles(Compiled *c, PyObject *R, PyObject *t, PyObject *rk, PyObject *nreal,
                            PyObject *ret, PyObject *load, int v, PyObject *routes,
                            double cutoff, double late_max, Places *ps) {
    Py_ssize_t nr = PyList_GET_SIZE(routes);
    for (Py_ssize_t i = 0; i < nr; i++) {
        int k = INT(routes, i);
        if (!may_take(c, nreal, load, v, k)) continue;
        Py_ssize_t from = ps->size;
        scan_in(c, R, t, rk, nreal, ret, v, k, cutoff, ps);
        for (Py_ssize_t j = from; j < ps->size; j++) {
            Place *q = &ps->items[j];
            q->cost = q->base + (q->worst > late_max ? c->w_max * (q->worst - late_max) : 0.0);
            q->low = q->tr + q->c;
        }
    }
    if (!PyErr_Occurred() && ps->size > 1)
        qsort(ps->items, (size_t)ps->size, sizeof(Place), cmp_place);
}

/* singles(compiled, R, t, rk, nreal, ret, load, v, routes, cutoff, late_max)
 *   -> sorted [(cost, low, k, p, base, worst, c)]: repair._singles for a plan without pinned
 *   places, every route in `routes` scanned. */
static PyObject *native_singles(PyObject *self, PyObject *args) {
    PyObject *cap, *R, *t, *rk, *nreal, *ret, *load, *routes;
    int v;
    double cutoff, late_max;
    if (!PyArg_ParseTuple(args, "OO!O!O!O!O!O!iO!dd", &cap, &PyList_Type, &R, &PyList_Type, &t,
                          &PyList_Type, &rk, &PyList_Type, &nreal, &PyList_Type, &ret,
                          &PyList_Type, &load, &v, &PyList_Type, &routes, &cutoff, &late_max))
        return NULL;
    Compiled *c = get(cap);
    if (c == NULL) return NULL;
    Places ps = {NULL, 0, 0};
    collect_singles(c, R, t, rk, nreal, ret, load, v, routes, cutoff, late_max, &ps);
    PyObject *out = NULL;
    if (!PyErr_Occurred()) out = PyList_New(ps.size);
    for (Py_ssize_t i = 0; out != NULL && i < ps.size; i++) {
        Place *q = &ps.items[i];
        PyObject *row = Py_BuildValue("(ddiiddd)", q->cost, q->low, q->k, q->p, q->base,
                                      q->worst, q->c);
        if (row == NULL) { Py_CLEAR(out); break; }
        PyList_SET_ITEM(out, i, row);
    }
    free(ps.items);
    return out;
}

/* Whether a place is skipped: draw() (the search's random.random) fell under `blink`. 1 to skip,
 * 0 to try it, -1 on a Python error. Call only when blinking (draw is not None, blink > 0). */
static int blinked(PyObject *draw, double blink) {
    PyObject *r = PyObject_CallNoArgs(draw);
    if (r == NULL) return -1;
    double u = PyFloat_AsDouble(r);
    Py_DECREF(r);
    if (PyErr_Occurred()) return -1;
    return u < blink;
}

static int single_try(Compiled *c, PyObject *R, PyObject *t, PyObject *rk, PyObject *nreal,
                      PyObject *ret, PyObject *load, PyObject *rdist, int v, int k, int p,
                      double late_max, double *cost);

typedef struct {
    double cost;
    int k, p;
} Pending;

static int cmp_pending(const void *pa, const void *pb) {
    const Pending *a = pa, *b = pb;
    int r = cmp_double(a->cost, b->cost);
    if (r) return r;
    if (a->k != b->k) return a->k < b->k ? -1 : 1;
    return a->p < b->p ? -1 : (a->p > b->p);
}

/* best_single(compiled, R, t, rk, nreal, ret, load, rdist, v, routes, late_max, draw, blink,
 *             settle)
 *   -> (best, k, p, pending): repair._best_single's scan for a plan without pinned places.
 *   Each route is scanned with the best exact cost found so far as its cutoff; each place is
 *   skipped when draw() (the search's random.random, or None) falls under `blink`, drawn in the
 *   same order as the Python loop draws; (k, p) is the best exact place (k -1 if none) and
 *   `pending` the unsorted [(cost, k, p)] of places whose cost is a lower bound under it. With
 *   `settle` (v has no partner) the pending places are tried here instead, lowest bound first,
 *   as repair._best_single tries them, and (best, k, p) is the best of all; pending is then
 *   empty. */
static PyObject *native_best_single(PyObject *self, PyObject *args) {
    PyObject *cap, *R, *t, *rk, *nreal, *ret, *load, *rdist, *routes, *draw;
    int v, settle;
    double late_max, blink;
    if (!PyArg_ParseTuple(args, "OO!O!O!O!O!O!O!iO!dOdp", &cap, &PyList_Type, &R, &PyList_Type,
                          &t, &PyList_Type, &rk, &PyList_Type, &nreal, &PyList_Type, &ret,
                          &PyList_Type, &load, &PyList_Type, &rdist, &v, &PyList_Type, &routes,
                          &late_max, &draw, &blink, &settle))
        return NULL;
    Compiled *c = get(cap);
    if (c == NULL) return NULL;
    if (settle && (v < 0 || v >= c->n || c->partner[v] >= 0)) {
        PyErr_SetString(PyExc_ValueError, "best_single: only a visit with no partner settles");
        return NULL;
    }
    int blinking = blink != 0.0 && draw != Py_None;
    double best = INFINITY;
    int best_k = -1, best_p = -1;
    Pending *held = NULL;
    Py_ssize_t nheld = 0, cap_held = 0;
    Places ps = {NULL, 0, 0};
    Py_ssize_t nr = PyList_GET_SIZE(routes);
    for (Py_ssize_t i = 0; i < nr && !PyErr_Occurred(); i++) {
        int k = INT(routes, i);
        if (!may_take(c, nreal, load, v, k)) continue;
        ps.size = 0;
        scan_in(c, R, t, rk, nreal, ret, v, k, best, &ps);
        for (Py_ssize_t j = 0; j < ps.size && !PyErr_Occurred(); j++) {
            Place *q = &ps.items[j];
            if (blinking) {
                int skip = blinked(draw, blink);
                if (skip < 0) break;
                if (skip) continue;
            }
            double cost = q->base + (q->worst > late_max ? c->w_max * (q->worst - late_max) : 0.0);
            if (cost >= best) continue;
            if (q->exact) {
                best = cost;
                best_k = k;
                best_p = q->p;
            } else {
                if (nheld >= cap_held) {
                    cap_held = cap_held ? 2 * cap_held : 64;
                    held = realloc(held, sizeof(Pending) * (size_t)cap_held);
                }
                Pending item = {cost, k, q->p};
                held[nheld++] = item;
            }
        }
    }
    free(ps.items);
    PyObject *pending = NULL;
    if (!PyErr_Occurred() && settle) {
        if (nheld > 1) qsort(held, (size_t)nheld, sizeof(Pending), cmp_pending);
        for (Py_ssize_t i = 0; i < nheld; i++) {
            if (held[i].cost >= best) break;
            double cost;
            int got = single_try(c, R, t, rk, nreal, ret, load, rdist, v, held[i].k, held[i].p,
                                 late_max, &cost);
            if (got == 2) break;
            if (got == 0 && cost < best) {
                best = cost;
                best_k = held[i].k;
                best_p = held[i].p;
            }
        }
        if (!PyErr_Occurred()) pending = PyList_New(0);
    } else if (!PyErr_Occurred()) {
        pending = PyList_New(nheld);
        for (Py_ssize_t i = 0; pending != NULL && i < nheld; i++) {
            PyObject *row = Py_BuildValue("(dii)", held[i].cost, held[i].k, held[i].p);
            if (row == NULL) { Py_CLEAR(pending); break; }
            PyList_SET_ITEM(pending, i, row);
        }
    }
    free(held);
    if (pending == NULL) return NULL;
    return Py_BuildValue("(diiN)", best, best_k, best_p, pending);
}

/* --- a linked pair's best place: repair._best_pair's search after its first trial ------- */

typedef struct {
    double value;
    int ka, pa, kb, pb;
} Bound;

typedef struct {
    double total;
    int i, j;
} Sum;

static int bound_less(const Bound *x, const Bound *y) {
    if (x->value != y->value) return x->value < y->value;
    if (x->ka != y->ka) return x->ka < y->ka;
    if (x->pa != y->pa) return x->pa < y->pa;
    if (x->kb != y->kb) return x->kb < y->kb;
    return x->pb < y->pb;
}

static int sum_less(const Sum *x, const Sum *y) {
    if (x->total != y->total) return x->total < y->total;
    if (x->i != y->i) return x->i < y->i;
    return x->j < y->j;
}

/* Binary min-heaps, ordered as Python orders the tuples (value, ka, pa, kb, pb) and
 * (total, i, j), so that they pop in heapq's order. */
#define HEAP_FUNCS(T, LESS)                                                                     \
    static void T##_push(T **h, Py_ssize_t *n, Py_ssize_t *cap, T x) {                         \
        if (*n >= *cap) {                                                                       \
            *cap = *cap ? 2 * *cap : 64;                                                        \
            *h = realloc(*h, sizeof(T) * (size_t)*cap);                                        \
        }                                                                                       \
        Py_ssize_t i = (*n)++;                                                                  \
        while (i > 0) {                                                                         \
            Py_ssize_t up = (i - 1) / 2;                                                        \
            if (!LESS(&x, &(*h)[up])) break;                                                    \
            (*h)[i] = (*h)[up];                                                                 \
            i = up;                                                                             \
        }                                                                                       \
        (*h)[i] = x;                                                                            \
    }                                                                                           \
    static T T##_pop(T *h, Py_ssize_t *n) {                                                    \
        T top = h[0], last = h[--(*n)];                                                         \
        Py_ssize_t i = 0;                                                                       \
        for (;;) {                                                                              \
            Py_ssize_t l = 2 * i + 1, r = l + 1, m = i;                                         \
            const T *best = &last;                                                              \
            if (l < *n && LESS(&h[l], best)) { m = l; best = &h[l]; }                           \
            if (r < *n && LESS(&h[r], best)) { m = r; best = &h[r]; }                           \
            if (m == i) break;                                                                  \
            h[i] = h[m];                                                                        \
            i = m;                                                                              \
        }                                                                                       \
        if (*n > 0) h[i] = last;                                                                \
        return top;                                                                             \
    }

HEAP_FUNCS(Bound, bound_less)
HEAP_FUNCS(Sum, sum_less)

static const Place *by_base_items; /* for cmp_by_base: the GIL is held, one sort at a time */

/* sorted(places, key=base): stable, so equal bases keep the places' order. */
static int cmp_by_base(const void *pa, const void *pb) {
    Py_ssize_t a = *(const Py_ssize_t *)pa, b = *(const Py_ssize_t *)pb;
    int r = cmp_double(by_base_items[a].base, by_base_items[b].base);
    if (r) return r;
    return a < b ? -1 : (a > b ? 1 : 0);
}

static Py_ssize_t *order_by_base(const Places *ps) {
    Py_ssize_t *idx = malloc(sizeof(Py_ssize_t) * (size_t)(ps->size ? ps->size : 1));
    for (Py_ssize_t i = 0; i < ps->size; i++) idx[i] = i;
    by_base_items = ps->items;
    if (ps->size > 1) qsort(idx, (size_t)ps->size, sizeof(Py_ssize_t), cmp_by_base);
    return idx;
}

/* repair._best_pair's bound on a pair's cost at two places, INF if they do not go together. */
static double pair_bound(Compiled *c, const Place *x, const Place *y, int simultaneous,
                         double late_max) {
    if (x->k == y->k) {
        if (simultaneous || x->p > y->p) return INFINITY;
        if (x->p == y->p) {
            double u = x->cost + y->c, w = y->cost + x->c;
            return w > u ? w : u; /* max(u, w): the first when equal, as Python's */
        }
        return x->cost + y->low > y->cost + x->low ? x->cost + y->low : y->cost + x->low;
    }
    double worst = x->worst > y->worst ? x->worst : y->worst;
    return x->base + y->base + (worst > late_max ? c->w_max * (worst - late_max) : 0.0);
}

static int pair_try(Compiled *c, PyObject *R, PyObject *t, PyObject *rk, PyObject *nreal,
                    PyObject *ret, PyObject *load, PyObject *rdist, int a, int b, int ka, int pa,
                    int kb, int pb, int simultaneous, double late_max, double *cost);

/* pair_search(compiled, R, t, rk, nreal, ret, load, rdist, a, b, routes_a, routes_b, late_max,
 *             low_a, low_b, simultaneous, first, draw, blink)
 *   -> (cost, ka, pa, kb, pb) or None
 *   repair._best_pair's search, for b the partner of a in a plan without pinned places: the
 *   first place (ka, pa, kb, pb) given, or None, tried as State.trial would (pair_try); then
 *   a's and b's places, each under the best cost found less the other's least bound (low_b,
 *   low_a); then combinations in increasing bound, each tried, until the least bound left
 *   reaches the best cost found. No place comes up twice but the first: each visit's places
 *   are distinct and each pair of them is pushed once. A place is skipped when draw() (the
 *   search's random.random, or None) falls under `blink`, drawn in the order the Python loop
 *   draws. Returns the best place found, or None when none keeps the hard rules. */
static PyObject *native_pair_search(PyObject *self, PyObject *args) {
    PyObject *cap, *R, *t, *rk, *nreal, *ret, *load, *rdist, *routes_a, *routes_b, *given, *draw;
    int a, b, simultaneous;
    double late_max, low_a, low_b, blink, best = INFINITY;
    if (!PyArg_ParseTuple(args, "OO!O!O!O!O!O!O!iiO!O!dddpOOd", &cap, &PyList_Type, &R,
                          &PyList_Type, &t, &PyList_Type, &rk, &PyList_Type, &nreal,
                          &PyList_Type, &ret, &PyList_Type, &load, &PyList_Type, &rdist, &a, &b,
                          &PyList_Type, &routes_a, &PyList_Type, &routes_b, &late_max, &low_a,
                          &low_b, &simultaneous, &given, &draw, &blink))
        return NULL;
    Compiled *c = get(cap);
    if (c == NULL) return NULL;
    if (a < 0 || a >= c->n || b < 0 || b >= c->n || c->partner[a] != b) {
        PyErr_SetString(PyExc_ValueError, "pair_search: b must be a's partner");
        return NULL;
    }
    int seen[4] = {-1, -1, -1, -1};
    if (given != Py_None &&
        !PyArg_ParseTuple(given, "iiii", &seen[0], &seen[1], &seen[2], &seen[3]))
        return NULL;
    int blinking = blink != 0.0 && draw != Py_None;
    int found = 0, fka = -1, fpa = -1, fkb = -1, fpb = -1;
    if (given != Py_None) {
        int skip = blinking ? blinked(draw, blink) : 0;
        if (skip < 0) return NULL;
        double cost;
        int got = skip ? 1
                       : pair_try(c, R, t, rk, nreal, ret, load, rdist, a, b, seen[0], seen[1],
                                  seen[2], seen[3], simultaneous, late_max, &cost);
        if (got == 2) return NULL;
        if (got == 0 && cost < best) {
            best = cost;
            found = 1;
            fka = seen[0]; fpa = seen[1]; fkb = seen[2]; fpb = seen[3];
        }
    }
    if (!simultaneous) { /* in one gap with its partner, a visit's share may be its credit */
        if (-c->w_unassigned < low_a) low_a = -c->w_unassigned;
        if (-c->w_unassigned < low_b) low_b = -c->w_unassigned;
    }
    double cutoff_a = best - low_b, cutoff_b = best - low_a;
    Places A = {NULL, 0, 0}, B = {NULL, 0, 0};
    Bound *bounds = NULL;
    Sum *sums = NULL;
    Py_ssize_t nb_bounds = 0, cap_bounds = 0, n_sums = 0, cap_sums = 0;
    Py_ssize_t *ia = NULL, *ib = NULL;
    collect_singles(c, R, t, rk, nreal, ret, load, a, routes_a, cutoff_a, late_max, &A);
    if (!PyErr_Occurred())
        collect_singles(c, R, t, rk, nreal, ret, load, b, routes_b, cutoff_b, late_max, &B);
    if (PyErr_Occurred() || A.size == 0 || B.size == 0) goto done;
    ia = order_by_base(&A);
    ib = order_by_base(&B);
    if (!simultaneous) { /* an ordered pair may go to one route, the first visit first */
        for (Py_ssize_t x = 0; x < A.size; x++) {
            const Place *p = &A.items[x];
            for (Py_ssize_t y = 0; y < B.size; y++) {
                const Place *q = &B.items[y];
                if (q->k != p->k) continue;
                double value = pair_bound(c, p, q, simultaneous, late_max);
                if (value < best) {
                    Bound item = {value, p->k, p->p, q->k, q->p};
                    Bound_push(&bounds, &nb_bounds, &cap_bounds, item);
                }
            }
        }
    }
    Sum first = {A.items[ia[0]].base + B.items[ib[0]].base, 0, 0};
    Sum_push(&sums, &n_sums, &cap_sums, first);
    for (;;) {
        double next_sum = n_sums ? sums[0].total : INFINITY;
        if (nb_bounds && bounds[0].value <= next_sum) {
            Bound top = Bound_pop(bounds, &nb_bounds);
            if (top.value >= best) break;
            if (top.ka == seen[0] && top.pa == seen[1] && top.kb == seen[2] && top.pb == seen[3])
                continue;
            if (blinking) {
                int skip = blinked(draw, blink);
                if (skip < 0) break;
                if (skip) continue;
            }
            double cost;
            int got = pair_try(c, R, t, rk, nreal, ret, load, rdist, a, b, top.ka, top.pa,
                               top.kb, top.pb, simultaneous, late_max, &cost);
            if (got == 2) break;
            if (got == 0 && cost < best) {
                best = cost;
                found = 1;
                fka = top.ka; fpa = top.pa; fkb = top.kb; fpb = top.pb;
            }
            continue;
        }
        if (next_sum >= best) break;
        Sum top = Sum_pop(sums, &n_sums);
        Py_ssize_t i = top.i, j = top.j;
        if (j == 0 && i + 1 < A.size) {
            Sum item = {A.items[ia[i + 1]].base + B.items[ib[0]].base, (int)(i + 1), 0};
            Sum_push(&sums, &n_sums, &cap_sums, item);
        }
        if (j + 1 < B.size) {
            Sum item = {A.items[ia[i]].base + B.items[ib[j + 1]].base, (int)i, (int)(j + 1)};
            Sum_push(&sums, &n_sums, &cap_sums, item);
        }
        const Place *p = &A.items[ia[i]], *q = &B.items[ib[j]];
        if (p->k == q->k) continue;
        double total = top.total;
        double worst = p->worst > q->worst ? p->worst : q->worst;
        if (worst > late_max) total += c->w_max * (worst - late_max);
        if (total < best) {
            Bound item = {total, p->k, p->p, q->k, q->p};
            Bound_push(&bounds, &nb_bounds, &cap_bounds, item);
        }
    }
done:
    free(A.items);
    free(B.items);
    free(ia);
    free(ib);
    free(bounds);
    free(sums);
    if (PyErr_Occurred()) return NULL;
    if (!found) Py_RETURN_NONE;
    return Py_BuildValue("(diiii)", best, fka, fpa, fkb, fpb);
}

/* terms(compiled, R, t) -> (travel, late_sum, late_max, overtime, cont, moved, placed, pins, ret,
 *   rdist, nreal, load): every term of the objective from the routes and times
 *   (State._terms). */
static PyObject *native_terms(PyObject *self, PyObject *args) {
    PyObject *cap, *R, *t;
    if (!PyArg_ParseTuple(args, "OO!O!", &cap, &PyList_Type, &R, &PyList_Type, &t)) return NULL;
    Compiled *c = get(cap);
    if (c == NULL) return NULL;
    int n = c->n, m = c->m;
    double travel = 0, late_sum = 0, late_max = 0, overtime = 0;
    long cont = 0, moved = 0, placed = 0, pins = 0;
    PyObject *ret = PyList_New(m), *rdist = PyList_New(m), *nreal = PyList_New(m),
             *load = PyList_New(m);
    if (!ret || !rdist || !nreal || !load) goto fail;
    for (int k = 0; k < m; k++) {
        PyObject *nodes = PyList_GET_ITEM(R, k);
        Py_ssize_t L = PyList_GET_SIZE(nodes);
        int here = c->cstart[k];
        double free_ = c->sstart[k], dist = 0.0, ld = 0.0, back;
        long real = 0;
        for (Py_ssize_t j = 0; j < L; j++) {
            int x = INT(nodes, j);
            double tx = TIME(t, x);
            if (x >= n) {
                free_ = tx + c->dur[x];
                continue;
            }
            dist += DD(c, here, c->loc[x]);
            here = c->loc[x];
            free_ = tx + c->dur[x];
            double late = tx - c->close[x];
            if (late > 0) {
                late_sum += late;
                if (late > late_max) late_max = late;
            }
            if (c->pref[x] >= 0 && c->pref[x] != k) cont++;
            if (c->prev[x] >= 0 && c->prev[x] != k) moved++;
            if (c->pin_pos[x] >= 0 && c->pin_pos[x] != real) pins++;
            real++;
            ld += c->demand[x];
        }
        if (real) {
            dist += DD(c, here, c->cend[k]);
            back = free_ + TT(c, here, c->cend[k]);
            if (back > c->send[k]) overtime += back - c->send[k];
        } else {
            back = c->sstart[k];
        }
        PyList_SET_ITEM(ret, k, PyFloat_FromDouble(back));
        PyList_SET_ITEM(rdist, k, PyFloat_FromDouble(dist));
        PyList_SET_ITEM(nreal, k, PyLong_FromLong(real));
        PyList_SET_ITEM(load, k, PyFloat_FromDouble(ld));
        travel += dist;
        placed += real;
    }
    if (PyErr_Occurred()) goto fail;
    return Py_BuildValue("(ddddllllNNNN)", travel, late_sum, late_max, overtime, cont, moved,
                         placed, pins, ret, rdist, nreal, load);
fail:
    Py_XDECREF(ret);
    Py_XDECREF(rdist);
    Py_XDECREF(nreal);
    Py_XDECREF(load);
    return NULL;
}

typedef struct {
    double est, low;
    int k, p;
} Quick;

typedef struct {
    Quick *items;
    Py_ssize_t size, cap;
} Quicks;

/* For each place of visit v in route k: an estimate of its cost and a lower bound of it
 * (State.quick's loop), appended to `out`. */
static void quick_route(Compiled *c, PyObject *nodes, PyObject *t, int v, int k, double cst,
                        int nreal, double lm, Quicks *out) {
    double wt = c->w_travel, wl = c->w_late, wm = c->w_max;
    int lv = c->loc[v];
    double ov = c->open[v], cv = c->close[v];
    Frame f;
    frame_open(c, &f, nodes, t, k);
    for (Py_ssize_t p = 0; p <= f.L; p++) {
        int a = f.heres[p], b = f.nexts[p];
        double tr = wt * (nreal ? DD(c, a, lv) + DD(c, lv, b) - DD(c, a, b)
                                : DD(c, a, lv) + DD(c, lv, b)) + cst;
        double st = f.frees[p] + TT(c, a, lv);
        double late = st > cv ? st - cv : 0.0;
        if (st < ov) late = ov > cv ? ov - cv : 0.0;
        double est = tr + wl * late + (late > lm ? wm * (late - lm) : 0.0);
        if (out->size >= out->cap) {
            out->cap = out->cap ? 2 * out->cap : 64;
            out->items = realloc(out->items, sizeof(Quick) * (size_t)out->cap);
        }
        Quick q = {est, tr, k, (int)p};
        out->items[out->size++] = q;
    }
    frame_close(&f);
}

/* quick(compiled, nodes, t, v, k, const, nreal, late_max) -> [(estimate, bound, position)] */
static PyObject *native_quick(PyObject *self, PyObject *args) {
    PyObject *cap, *nodes, *t;
    int v, k, nreal;
    double cst, lm;
    if (!PyArg_ParseTuple(args, "OO!O!iidid", &cap, &PyList_Type, &nodes, &PyList_Type, &t, &v,
                          &k, &cst, &nreal, &lm))
        return NULL;
    Compiled *c = get(cap);
    if (c == NULL) return NULL;
    Quicks qs = {NULL, 0, 0};
    quick_route(c, nodes, t, v, k, cst, nreal, lm, &qs);
    PyObject *out = PyErr_Occurred() ? NULL : PyList_New(qs.size);
    for (Py_ssize_t i = 0; out != NULL && i < qs.size; i++) {
        PyObject *row = Py_BuildValue("(ddi)", qs.items[i].est, qs.items[i].low, qs.items[i].p);
        if (row == NULL) { Py_CLEAR(out); break; }
        PyList_SET_ITEM(out, i, row);
    }
    free(qs.items);
    return out;
}

static int cmp_quick(const void *pa, const void *pb) {
    const Quick *a = pa, *b = pb;
    int r;
    if ((r = cmp_double(a->est, b->est))) return r;
    if ((r = cmp_double(a->low, b->low))) return r;
    if (a->k != b->k) return a->k < b->k ? -1 : 1;
    return a->p < b->p ? -1 : (a->p > b->p);
}

/* quick_best(compiled, R, t, nreal, load, v, routes, late_max, keep)
 *   -> (least bound, the `keep` best [(estimate, bound, k, p)] in order) or None when no route
 *   may take v: State.quick over every route in `routes`, as repair._best_pair uses it. */
static PyObject *native_quick_best(PyObject *self, PyObject *args) {
    PyObject *cap, *R, *t, *nreal, *load, *routes;
    int v, keep;
    double lm;
    if (!PyArg_ParseTuple(args, "OO!O!O!O!iO!di", &cap, &PyList_Type, &R, &PyList_Type, &t,
                          &PyList_Type, &nreal, &PyList_Type, &load, &v, &PyList_Type, &routes,
                          &lm, &keep))
        return NULL;
    Compiled *c = get(cap);
    if (c == NULL) return NULL;
    Quicks qs = {NULL, 0, 0};
    Py_ssize_t nr = PyList_GET_SIZE(routes);
    for (Py_ssize_t i = 0; i < nr; i++) {
        int k = INT(routes, i);
        if (!may_take(c, nreal, load, v, k)) continue;
        quick_route(c, PyList_GET_ITEM(R, k), t, v, k, route_const(c, v, k), INT(nreal, k), lm,
                    &qs);
    }
    if (PyErr_Occurred()) {
        free(qs.items);
        return NULL;
    }
    if (qs.size == 0) {
        free(qs.items);
        Py_RETURN_NONE;
    }
    double least = INFINITY;
    for (Py_ssize_t i = 0; i < qs.size; i++)
        if (qs.items[i].low < least) least = qs.items[i].low;
    qsort(qs.items, (size_t)qs.size, sizeof(Quick), cmp_quick);
    Py_ssize_t n_out = qs.size < keep ? qs.size : keep;
    PyObject *out = NULL, *best = PyList_New(n_out);
    for (Py_ssize_t i = 0; best != NULL && i < n_out; i++) {
        Quick *q = &qs.items[i];
        PyObject *row = Py_BuildValue("(ddii)", q->est, q->low, q->k, q->p);
        if (row == NULL) { Py_CLEAR(best); break; }
        PyList_SET_ITEM(best, i, row);
    }
    if (best != NULL) out = Py_BuildValue("(dN)", least, best);
    free(qs.items);
    return out;
}

/* One route re-timed from position i (State._retime). Returns 0 when there is no schedule. */
static int retime(Compiled *c, PyObject *nodes, int *rk, int k, Py_ssize_t i, double *t,
                  int *depth, int **work, int *wn, int *wcap, int cap) {
    int n = c->n;
    double free_;
    int here, dep;
    if (i == 0) {
        free_ = c->sstart[k];
        here = c->cstart[k];
        dep = 0;
    } else {
        int y = INT(nodes, i - 1);
        free_ = t[y] + c->dur[y];
        dep = depth[y];
        here = c->cstart[k];
        for (Py_ssize_t j = i - 1; j >= 0; j--) {
            int x = INT(nodes, j);
            if (x < n) { here = c->loc[x]; break; }
        }
    }
    Py_ssize_t L = PyList_GET_SIZE(nodes);
    for (Py_ssize_t j = i; j < L; j++) {
        int x = INT(nodes, j);
        if (x >= n) {
            double cand = free_;
            int cd = dep + 1;
            if (c->open[x] > cand) { cand = c->open[x]; cd = 0; }
            if (cand > t[x] + EPS) {
                t[x] = cand;
                depth[x] = cd;
                if (cd > cap) return 0;
            }
            free_ = t[x] + c->dur[x];
            dep = depth[x];
            continue;
        }
        double cand = free_ + TT(c, here, c->loc[x]);
        int cd = dep + 1;
        if (c->open[x] > cand) { cand = c->open[x]; cd = 0; }
        int z = c->partner[x];
        if (z >= 0 && rk[z] >= 0 && t[z] > -INFINITY) {
            double lb = t[z] + c->lw[x];
            if (lb > cand) { cand = lb; cd = depth[z] + 1; }
        }
        if (cand > t[x] + EPS) {
            t[x] = cand;
            depth[x] = cd;
            if (cd > cap) return 0;
            if (c->hard[x] && cand > c->close[x] + HARD_EPS) return 0;
            if (z >= 0 && rk[z] >= 0 && t[z] > -INFINITY && t[z] < cand + c->lw[z] - EPS) {
                if (*wn >= *wcap) {
                    *wcap *= 2;
                    *work = realloc(*work, sizeof(int) * (size_t)*wcap);
                }
                (*work)[(*wn)++] = z;
            }
        } else if (j > i) {
            return 1;
        }
        free_ = t[x] + c->dur[x];
        here = c->loc[x];
        dep = depth[x];
    }
    return 1;
}

/* schedule(compiled, R, rk) -> (t, ok): the least fixed point of the times (State.schedule,
 * before its terms). */
static PyObject *native_schedule(PyObject *self, PyObject *args) {
    PyObject *cap, *R, *rk_list;
    if (!PyArg_ParseTuple(args, "OO!O!", &cap, &PyList_Type, &R, &PyList_Type, &rk_list))
        return NULL;
    Compiled *c = get(cap);
    if (c == NULL) return NULL;
    int N = c->N, m = c->m;
    double *t = malloc(sizeof(double) * (size_t)N);
    int *depth = calloc((size_t)N, sizeof(int));
    int *rk = malloc(sizeof(int) * (size_t)N);
    int wcap = 64, wn = 0, head = 0;
    int *work = malloc(sizeof(int) * (size_t)wcap);
    for (int i = 0; i < N; i++) {
        t[i] = -INFINITY;
        rk[i] = INT(rk_list, i);
    }
    int ok = 1;
    for (int k = 0; k < m; k++) {
        if (!retime(c, PyList_GET_ITEM(R, k), rk, k, 0, t, depth, &work, &wn, &wcap, N + 2)) {
            ok = 0;
            break;
        }
    }
    while (ok && head < wn) {
        int z = work[head++];
        int k = rk[z];
        PyObject *nodes = PyList_GET_ITEM(R, k);
        Py_ssize_t L = PyList_GET_SIZE(nodes), i = 0;
        while (i < L && INT(nodes, i) != z) i++;
        if (!retime(c, nodes, rk, k, i, t, depth, &work, &wn, &wcap, N + 2)) ok = 0;
        if (head > 4096 && head * 2 > wn) { /* keep the queue short */
            memmove(work, work + head, sizeof(int) * (size_t)(wn - head));
            wn -= head;
            head = 0;
        }
    }
    if (ok) {
        for (int k = 0; k < m && ok; k++) {
            PyObject *nodes = PyList_GET_ITEM(R, k);
            Py_ssize_t L = PyList_GET_SIZE(nodes);
            int real = 0;
            for (Py_ssize_t j = 0; j < L; j++)
                if (INT(nodes, j) < c->n) real++;
            if (!real) continue;
            for (Py_ssize_t j = 0; j < L; j++) {
                int x = INT(nodes, j);
                if (c->hard[x] && t[x] > c->close[x] + HARD_EPS) { ok = 0; break; }
            }
        }
    }
    PyObject *tl = PyList_New(N);
    if (tl != NULL) {
        for (int i = 0; i < N; i++) {
            PyObject *f = PyFloat_FromDouble(t[i]);
            if (f == NULL) { Py_CLEAR(tl); break; }
            PyList_SET_ITEM(tl, i, f);
        }
    }
    free(t); free(depth); free(rk); free(work);
    if (tl == NULL) return NULL;
    if (PyErr_Occurred()) { Py_DECREF(tl); return NULL; }
    return Py_BuildValue("(NO)", tl, ok ? Py_True : Py_False);
}

/* Whether the chain of causes leading to src starts from x (evaluate._cycle). */
static int cycle(Compiled *c, int src, int x, int known) {
    int seen = 0;
    while (src >= 0) {
        if (src == x) return 1;
        if (++seen > known + 1) return 1;
        src = c->nt_stamp[src] == c->stamp ? c->par[src] : -1;
    }
    return 0;
}

/* A route as a trial sees it: a new route built in C (`arr`), or a Python list. */
typedef struct {
    const int *arr;
    PyObject *list;
    Py_ssize_t L;
} View;

static inline int view_at(const View *v, Py_ssize_t j) {
    return v->arr != NULL ? v->arr[j] : INT(v->list, j);
}

/* What a trial inserts: the routes it changes, in the order first changed (clinician, new route,
 * sticky position: where re-timing may not stop early, -1 for none), and the inserted visits
 * with their clinicians, in the order given. */
typedef struct {
    int nch, nplaced;
    const int *ks, *holds;
    const View *views;
    const int *pv, *pk;
} Insert;

/* The route of clinician k as the trial sees it: its new route if it changed, else R[k]. */
static View route_view(const Insert *ins, PyObject *R, int k) {
    for (int q = 0; q < ins->nch; q++)
        if (ins->ks[q] == k) return ins->views[q];
    View v = {NULL, PyList_GET_ITEM(R, k), 0};
    v.L = PyList_GET_SIZE(v.list);
    return v;
}

static void trial_mark(Compiled *c, const Insert *ins) {
    for (int q = 0; q < ins->nplaced; q++) c->placed_k[ins->pv[q]] = ins->pk[q];
    for (int q = 0; q < ins->nch; q++) c->hold_k[ins->ks[q]] = ins->holds[q];
}

static void trial_unmark(Compiled *c, const Insert *ins) {
    for (int q = 0; q < ins->nplaced; q++) c->placed_k[ins->pv[q]] = -1;
    for (int q = 0; q < ins->nch; q++) c->hold_k[ins->ks[q]] = -1;
}

static void work_push(Compiled *c, int *wn, int k, int i) {
    if (*wn >= c->work_cap) {
        c->work_cap *= 2;
        c->work = realloc(c->work, sizeof(int) * 2 * (size_t)c->work_cap);
    }
    c->work[2 * *wn] = k;
    c->work[2 * *wn + 1] = i;
    (*wn)++;
}

/* The loop of State.trial for an insert marked by trial_mark: push the inserted visits' times
 * along their routes and across links, from the work list work0 [(clinician, position)].
 * Returns 0 when a schedule keeps every hard bound (the moved nodes in c->order[0..*nmoved],
 * in the order they first moved, their times in c->nt; each changed route's time back at its
 * end in c->back, for the routes in c->back_order[0..*nback]), 1 when none does, 2 on a
 * Python error. */
static int trial_run(Compiled *c, PyObject *R, PyObject *t, PyObject *rk, const Insert *ins,
                     const int *work0, int n0, long budget, int *nmoved_out, int *nback_out) {
    int n = c->n, N = c->N;
    const int *placed_k = c->placed_k;
    c->stamp++;
    if (c->stamp == 0x7fffffff) {
        memset(c->nt_stamp, 0, sizeof(int) * (size_t)N);
        c->stamp = 1;
    }
    int stamp = c->stamp;
    int nmoved = 0, nback = 0, wn = 0, head = 0;
    for (int q = 0; q < n0; q++) work_push(c, &wn, work0[2 * q], work0[2 * q + 1]);
    int failed = 0; /* 1: no schedule; 2: a Python error */
    while (head < wn && !failed) {
        int k = c->work[2 * head], i = c->work[2 * head + 1];
        head++;
        View nodes = route_view(ins, R, k);
        int hk = c->hold_k[k];
        double free_;
        int here, prev;
        if (i == 0) {
            free_ = c->sstart[k];
            here = c->cstart[k];
            prev = -1;
        } else {
            prev = view_at(&nodes, i - 1);
            double ty = c->nt_stamp[prev] == stamp ? c->nt[prev] : TIME(t, prev);
            free_ = ty + c->dur[prev];
            here = c->cstart[k];
            for (int jj = i - 1; jj >= 0; jj--) {
                int y = view_at(&nodes, jj);
                if (y < n) { here = c->loc[y]; break; }
            }
        }
        Py_ssize_t L = nodes.L;
        Py_ssize_t j = i;
        int finished = 1;
        while (j < L) {
            if (--budget < 0) { failed = 1; break; }
            int x = view_at(&nodes, j);
            int moved = c->nt_stamp[x] == stamp;
            int has_old = 1;
            double old = 0.0;
            if (moved) old = c->nt[x];
            else if (placed_k[x] < 0) old = TIME(t, x);
            else has_old = 0;
            if (x >= n) { /* the break, where the clinician is */
                double cand = free_;
                int src = prev;
                if (c->open[x] > cand) { cand = c->open[x]; src = -1; }
                if (has_old && cand <= old + EPS) {
                    cand = old;
                } else {
                    if (cand > c->close[x] + HARD_EPS) { failed = 1; break; }
                    if (moved && cycle(c, src, x, nmoved)) { failed = 1; break; }
                    if (!moved) c->order[nmoved++] = x;
                    c->nt[x] = cand;
                    c->par[x] = src;
                    c->nt_stamp[x] = stamp;
                }
                free_ = cand + c->dur[x];
                prev = x;
                j++;
                continue;
            }
            double cand = free_ + TT(c, here, c->loc[x]);
            int src = prev;
            if (c->open[x] > cand) { cand = c->open[x]; src = -1; }
            int z = c->partner[x];
            int has_tz = 0;
            double tz = 0.0;
            if (z >= 0) {
                if (c->nt_stamp[z] == stamp) { tz = c->nt[z]; has_tz = 1; }
                else if (placed_k[z] < 0 && INT(rk, z) >= 0) { tz = TIME(t, z); has_tz = 1; }
                if (has_tz && tz + c->lw[x] > cand) { cand = tz + c->lw[x]; src = z; }
            }
            if (has_old && cand <= old + EPS) {
                if (j > hk) { finished = 0; break; }
                free_ = old + c->dur[x];
                here = c->loc[x];
                prev = x;
                j++;
                continue;
            }
            if (c->hard[x] && cand > c->close[x] + HARD_EPS) { failed = 1; break; }
            if (moved && cycle(c, src, x, nmoved)) { failed = 1; break; }
            if (!moved) c->order[nmoved++] = x;
            c->nt[x] = cand;
            c->par[x] = src;
            c->nt_stamp[x] = stamp;
            if (has_tz && tz < cand + c->lw[z] - EPS) {
                int kz = placed_k[z] >= 0 ? placed_k[z] : INT(rk, z);
                View zn = route_view(ins, R, kz);
                Py_ssize_t iz = 0;
                while (iz < zn.L && view_at(&zn, iz) != z) iz++;
                work_push(c, &wn, kz, (int)iz);
            }
            free_ = cand + c->dur[x];
            here = c->loc[x];
            prev = x;
            j++;
        }
        if (failed) break;
        if (finished) {
            if (!c->has_back[k]) { c->has_back[k] = 1; c->back_order[nback++] = k; }
            c->back[k] = free_ + TT(c, here, c->cend[k]);
        }
    }
    for (int q = 0; q < nback; q++) c->has_back[c->back_order[q]] = 0;
    if (PyErr_Occurred()) failed = 2;
    *nmoved_out = nmoved;
    *nback_out = nback;
    return failed;
}

/* The Delta's cost of a trial that trial_run scheduled, term by term in State._delta's order:
 * `base`, every term but the maximum lateness, and `worst`, the largest lateness it makes.
 * `pins`: the change in pinned places out of place, worked out by the caller. */
static void trial_cost(Compiled *c, PyObject *t, PyObject *ret, PyObject *rdist,
                       PyObject *nreal, const Insert *ins, int nmoved, int nback, long pins,
                       double *base_out, double *worst_out) {
    int n = c->n;
    double travel = 0.0;
    for (int q = 0; q < ins->nch; q++) {
        int k = ins->ks[q];
        const View *v = &ins->views[q];
        int here = c->cstart[k];
        double dist = 0.0;
        for (Py_ssize_t j = 0; j < v->L; j++) {
            int x = view_at(v, j);
            if (x < n) {
                dist += DD(c, here, c->loc[x]);
                here = c->loc[x];
            }
        }
        dist += DD(c, here, c->cend[k]);
        travel += dist - TIME(rdist, k);
    }
    double dl = 0.0, worst = 0.0;
    for (int q = 0; q < nmoved; q++) {
        int x = c->order[q];
        if (x >= n) continue;
        double cx = c->close[x], new_t = c->nt[x];
        if (new_t > cx) {
            double late = new_t - cx;
            if (late > worst) worst = late;
            if (c->placed_k[x] >= 0) {
                dl += late;
            } else {
                double ox = TIME(t, x);
                dl += late - (ox > cx ? ox - cx : 0.0);
            }
        }
    }
    double over = 0.0;
    for (int q = 0; q < nback; q++) {
        int k = c->back_order[q];
        double send = c->send[k], was = TIME(ret, k);
        double new_over = c->back[k] > send ? c->back[k] - send : 0.0;
        double old_over = INT(nreal, k) && was > send ? was - send : 0.0;
        over += new_over - old_over;
    }
    long cont = 0, moved = 0;
    for (int q = 0; q < ins->nplaced; q++) {
        int x = ins->pv[q], k = ins->pk[q];
        if (x < n && c->pref[x] >= 0 && c->pref[x] != k) cont++;
        if (x < n && c->prev[x] >= 0 && c->prev[x] != k) moved++;
    }
    *base_out = c->w_travel * travel + c->w_late * dl + c->w_over * over +
                c->w_cont * (double)cont + c->w_stab * (double)moved +
                c->w_unassigned * (double)(pins - ins->nplaced);
    *worst_out = worst;
}

/* propagate(compiled, R, t, rk, placed, new_routes, sticky, work, budget, ret, rdist, nreal,
 *           pins)
 *   -> (times, returns, base, worst) or None: the loop of State.trial and its Delta's cost
 *   (State._delta, with `pins` the change in pinned places out of place, worked out by the
 *   caller). `placed`: {visit: clinician} of the
 *   inserted visits; `new_routes`: {clinician: new route}; `sticky`: {clinician: position};
 *   `work`: [(clinician, position)] to start from. `times` ({node: new start}, in the order the
 *   nodes first moved) and `returns` ({clinician: time back at the end}) as State.trial has. */
static PyObject *native_propagate(PyObject *self, PyObject *args) {
    PyObject *cap, *R, *t, *rk, *placed, *new_routes, *sticky, *work_in, *ret, *rdist, *nreal;
    long budget, pins;
    if (!PyArg_ParseTuple(args, "OO!O!O!O!O!O!O!lO!O!O!l", &cap, &PyList_Type, &R, &PyList_Type,
                          &t, &PyList_Type, &rk, &PyDict_Type, &placed, &PyDict_Type,
                          &new_routes, &PyDict_Type, &sticky, &PyList_Type, &work_in, &budget,
                          &PyList_Type, &ret, &PyList_Type, &rdist, &PyList_Type, &nreal, &pins))
        return NULL;
    Compiled *c = get(cap);
    if (c == NULL) return NULL;
    Py_ssize_t nch = PyDict_Size(new_routes), np = PyDict_Size(placed);
    Py_ssize_t n0 = PyList_GET_SIZE(work_in);
    int *ks = malloc(sizeof(int) * (size_t)(nch + 1));
    int *holds = malloc(sizeof(int) * (size_t)(nch + 1));
    View *views = malloc(sizeof(View) * (size_t)(nch + 1));
    int *pv = malloc(sizeof(int) * (size_t)(np + 1));
    int *pk = malloc(sizeof(int) * (size_t)(np + 1));
    int *work0 = malloc(sizeof(int) * 2 * (size_t)(n0 + 1));
    PyObject *key, *value, *result = NULL;
    Py_ssize_t pos = 0;
    int q = 0, bad = 0;
    while (!bad && PyDict_Next(new_routes, &pos, &key, &value)) {
        int k = (int)PyLong_AsLong(key);
        if (k < 0 || k >= c->m || !PyList_Check(value)) {
            bad = 1;
            break;
        }
        PyObject *h = PyDict_GetItemWithError(sticky, key);
        ks[q] = k;
        holds[q] = h != NULL ? (int)PyLong_AsLong(h) : -1;
        View v = {NULL, value, PyList_GET_SIZE(value)};
        views[q++] = v;
    }
    pos = 0;
    q = 0;
    while (!bad && PyDict_Next(placed, &pos, &key, &value)) {
        int x = (int)PyLong_AsLong(key), k = (int)PyLong_AsLong(value);
        if (x < 0 || x >= c->N || k < 0 || k >= c->m) {
            bad = 1;
            break;
        }
        pv[q] = x;
        pk[q++] = k;
    }
    for (Py_ssize_t i = 0; i < n0 && !bad; i++) {
        PyObject *item = PyList_GET_ITEM(work_in, i);
        work0[2 * i] = (int)PyLong_AsLong(PyTuple_GET_ITEM(item, 0));
        work0[2 * i + 1] = (int)PyLong_AsLong(PyTuple_GET_ITEM(item, 1));
    }
    if (bad && !PyErr_Occurred())
        PyErr_SetString(PyExc_ValueError, "propagate: a clinician or visit out of range");
    if (PyErr_Occurred()) goto done;
    Insert ins = {(int)nch, (int)np, ks, holds, views, pv, pk};
    trial_mark(c, &ins);
    int nmoved, nback;
    int failed = trial_run(c, R, t, rk, &ins, work0, (int)n0, budget, &nmoved, &nback);
    if (failed == 1) {
        result = Py_None;
        Py_INCREF(result);
    } else if (failed == 0) {
        PyObject *times = PyDict_New(), *returns = PyDict_New();
        int err = times == NULL || returns == NULL;
        for (int r = 0; r < nmoved && !err; r++) {
            int x = c->order[r];
            PyObject *kx = PyLong_FromLong(x), *vx = PyFloat_FromDouble(c->nt[x]);
            err = kx == NULL || vx == NULL || PyDict_SetItem(times, kx, vx) < 0;
            Py_XDECREF(kx);
            Py_XDECREF(vx);
        }
        for (int r = 0; r < nback && !err; r++) {
            int k = c->back_order[r];
            PyObject *kk = PyLong_FromLong(k), *vk = PyFloat_FromDouble(c->back[k]);
            err = kk == NULL || vk == NULL || PyDict_SetItem(returns, kk, vk) < 0;
            Py_XDECREF(kk);
            Py_XDECREF(vk);
        }
        double base = 0.0, worst = 0.0;
        if (!err) trial_cost(c, t, ret, rdist, nreal, &ins, nmoved, nback, pins, &base, &worst);
        if (err || PyErr_Occurred()) {
            Py_XDECREF(times);
            Py_XDECREF(returns);
        } else {
            result = Py_BuildValue("(NNdd)", times, returns, base, worst);
        }
    }
    trial_unmark(c, &ins);
done:
    free(ks); free(holds); free(views); free(pv); free(pk); free(work0);
    return result;
}

/* The route ra with visit v at position p, into buf; its length. */
static Py_ssize_t with_one(PyObject *ra, int v, int p, int *buf) {
    Py_ssize_t L = PyList_GET_SIZE(ra), w = 0;
    for (Py_ssize_t j = 0; j < p; j++) buf[w++] = INT(ra, j);
    buf[w++] = v;
    for (Py_ssize_t j = p; j < L; j++) buf[w++] = INT(ra, j);
    return w;
}

/* The first position from j on that is not a break (State.trial's sticky position). */
static int sticky_from(Compiled *c, const int *nodes, Py_ssize_t L, Py_ssize_t j) {
    while (j < L && nodes[j] >= c->n) j++;
    return (int)j;
}

/* A trial of `ins` (new routes built, sticky positions set) from the work list work0, and its
 * Delta's cost against late_max (Delta.cost): 0 with *cost set, 1 when no schedule keeps the
 * hard bounds, 2 on a Python error. */
static int insert_try(Compiled *c, PyObject *R, PyObject *t, PyObject *rk, PyObject *nreal,
                      PyObject *ret, PyObject *rdist, const Insert *ins, const int *work0, int n0,
                      double late_max, double *cost) {
    trial_mark(c, ins);
    int nmoved, nback;
    int r = trial_run(c, R, t, rk, ins, work0, n0, 50L * c->N, &nmoved, &nback);
    if (r == 0) {
        double base, worst;
        trial_cost(c, t, ret, rdist, nreal, ins, nmoved, nback, 0, &base, &worst);
        double over = worst - late_max;
        *cost = base + (over > 0 ? c->w_max * over : 0.0);
        if (PyErr_Occurred()) r = 2;
    }
    trial_unmark(c, ins);
    return r;
}

/* State.trial([(a, ka, pa), (b, kb, pb)]) and its Delta's cost against late_max, for a linked
 * pair (b is a's partner) in a plan without pinned places: 0 with *cost set, 1 when the
 * insertion breaks a hard rule, 2 on a Python error. The visits' places come from their
 * clinicians' scans, so each clinician may make its visit. */
static int pair_try(Compiled *c, PyObject *R, PyObject *t, PyObject *rk, PyObject *nreal,
                    PyObject *ret, PyObject *load, PyObject *rdist, int a, int b, int ka, int pa,
                    int kb, int pb, int simultaneous, double late_max, double *cost) {
    if (INT(rk, a) >= 0 || INT(rk, b) >= 0) return 1;
    if (simultaneous && ka == kb) return 1; /* two clinicians make a simultaneous pair */
    int ks[2], holds[2], work0[4], pv[2] = {a, b}, pk[2] = {ka, kb}, nch, n0;
    View views[2];
    if (ka == kb) {
        if (INT(nreal, ka) + 2 > c->maxv[ka]) return 1;
        if (c->any_capacity &&
            TIME(load, ka) + (c->demand[a] + c->demand[b]) > c->cap[ka] + 1e-9)
            return 1;
        /* in position order, a first when they share one (evaluate._with) */
        int v1 = a, p1 = pa, v2 = b, p2 = pb;
        if (pb < pa) { v1 = b; p1 = pb; v2 = a; p2 = pa; }
        PyObject *ra = PyList_GET_ITEM(R, ka);
        Py_ssize_t L = PyList_GET_SIZE(ra), w = 0;
        int *buf = c->buf_a;
        for (Py_ssize_t j = 0; j < p1; j++) buf[w++] = INT(ra, j);
        buf[w++] = v1;
        for (Py_ssize_t j = p1; j < p2; j++) buf[w++] = INT(ra, j);
        buf[w++] = v2;
        for (Py_ssize_t j = p2; j < L; j++) buf[w++] = INT(ra, j);
        ks[0] = ka;
        holds[0] = sticky_from(c, buf, w, p2 + 2);
        views[0] = (View){buf, NULL, w};
        work0[0] = ka;
        work0[1] = p1;
        nch = 1;
        n0 = 1;
    } else {
        int vs[2] = {a, b}, kk[2] = {ka, kb}, ps[2] = {pa, pb};
        int *bufs[2] = {c->buf_a, c->buf_b};
        for (int q = 0; q < 2; q++) {
            int k = kk[q];
            if (INT(nreal, k) + 1 > c->maxv[k]) return 1;
            if (c->any_capacity && TIME(load, k) + c->demand[vs[q]] > c->cap[k] + 1e-9) return 1;
            Py_ssize_t w = with_one(PyList_GET_ITEM(R, k), vs[q], ps[q], bufs[q]);
            ks[q] = k;
            holds[q] = sticky_from(c, bufs[q], w, ps[q] + 1);
            views[q] = (View){bufs[q], NULL, w};
            work0[2 * q] = k;
            work0[2 * q + 1] = ps[q];
        }
        nch = 2;
        n0 = 2;
    }
    if (PyErr_Occurred()) return 2;
    Insert ins = {nch, 2, ks, holds, views, pv, pk};
    return insert_try(c, R, t, rk, nreal, ret, rdist, &ins, work0, n0, late_max, cost);
}

/* State.trial([(v, k, p)]) and its Delta's cost against late_max, for a visit with no partner
 * in a plan without pinned places, at a place from k's scan: as pair_try. */
static int single_try(Compiled *c, PyObject *R, PyObject *t, PyObject *rk, PyObject *nreal,
                      PyObject *ret, PyObject *load, PyObject *rdist, int v, int k, int p,
                      double late_max, double *cost) {
    if (INT(rk, v) >= 0) return 1;
    if (INT(nreal, k) + 1 > c->maxv[k]) return 1;
    if (c->any_capacity && TIME(load, k) + c->demand[v] > c->cap[k] + 1e-9) return 1;
    Py_ssize_t w = with_one(PyList_GET_ITEM(R, k), v, p, c->buf_a);
    int ks[1] = {k}, holds[1], work0[2] = {k, p}, pv[1] = {v}, pk[1] = {k};
    holds[0] = sticky_from(c, c->buf_a, w, p + 1);
    View views[1] = {{c->buf_a, NULL, w}};
    if (PyErr_Occurred()) return 2;
    Insert ins = {1, 1, ks, holds, views, pv, pk};
    return insert_try(c, R, t, rk, nreal, ret, rdist, &ins, work0, 1, late_max, cost);
}

/* apply(compiled, R, t, rk, ret, rdist, nreal, load, times, returns, routes, late_sum,
 *       overtime, travel) -> (late_sum, overtime, travel)
 *   State._apply: a Delta's new times, times back and routes put in the plan's lists in place,
 *   and the three sums returned with each term added in State._apply's order. The inserted
 *   visits' clinicians (rk) are the caller's to set, after. (The routes' frames are the pure
 *   loops' cache: the C loops build their own.) */
static PyObject *native_apply(PyObject *self, PyObject *args) {
    PyObject *cap, *R, *t, *rk, *ret, *rdist, *nreal, *load, *times, *returns, *routes;
    double late_sum, overtime, travel;
    if (!PyArg_ParseTuple(args, "OO!O!O!O!O!O!O!O!O!O!ddd", &cap, &PyList_Type, &R,
                          &PyList_Type, &t, &PyList_Type, &rk, &PyList_Type, &ret, &PyList_Type, &rdist, &PyList_Type, &nreal,
                          &PyList_Type, &load, &PyDict_Type, &times, &PyDict_Type, &returns,
                          &PyDict_Type, &routes, &late_sum, &overtime, &travel))
        return NULL;
    Compiled *c = get(cap);
    if (c == NULL) return NULL;
    int n = c->n;
    PyObject *key, *value;
    Py_ssize_t pos = 0;
#define SET(list, i, obj)                                                                        \
    do {                                                                                        \
        PyObject *o_ = (obj);                                                                   \
        if (o_ == NULL) return NULL;                                                            \
        PyList_SetItem((list), (i), o_);                                                        \
    } while (0)
    while (PyDict_Next(routes, &pos, &key, &value)) {
        int k = (int)PyLong_AsLong(key);
        if (k < 0 || k >= c->m || !PyList_Check(value)) {
            PyErr_SetString(PyExc_ValueError, "apply: a route out of range");
            return NULL;
        }
    }
    double dl = 0.0;
    pos = 0;
    while (PyDict_Next(times, &pos, &key, &value)) {
        int x = (int)PyLong_AsLong(key);
        if (x < 0 || x >= c->N) {
            PyErr_SetString(PyExc_ValueError, "apply: a node out of range");
            return NULL;
        }
        double new_t = PyFloat_AsDouble(value);
        int kx = INT(rk, x);
        if (x < n) {
            double cx = c->close[x];
            double late = new_t > cx ? new_t - cx : 0.0;
            if (kx >= 0) {
                double ox = TIME(t, x);
                if (ox > cx) late -= ox - cx;
            }
            dl += late;
        }
        Py_INCREF(value);
        SET(t, x, value);
    }
    late_sum += dl;
    pos = 0;
    while (PyDict_Next(returns, &pos, &key, &value)) {
        int k = (int)PyLong_AsLong(key);
        if (k < 0 || k >= c->m) {
            PyErr_SetString(PyExc_ValueError, "apply: a route out of range");
            return NULL;
        }
        double back = PyFloat_AsDouble(value), send = c->send[k], was = TIME(ret, k);
        double old_over = INT(nreal, k) && was > send ? was - send : 0.0;
        Py_INCREF(value);
        SET(ret, k, value);
        overtime += (back > send ? back - send : 0.0) - old_over;
    }
    pos = 0;
    while (PyDict_Next(routes, &pos, &key, &value)) {
        int k = (int)PyLong_AsLong(key);
        Py_INCREF(value);
        SET(R, k, value);
        int here = c->cstart[k];
        double dist = 0.0, ld = 0.0;
        long real = 0;
        Py_ssize_t L = PyList_GET_SIZE(value);
        for (Py_ssize_t j = 0; j < L; j++) {
            int x = INT(value, j);
            if (x < n) {
                dist += DD(c, here, c->loc[x]);
                here = c->loc[x];
                real++;
                ld += c->demand[x];
            }
        }
        dist += DD(c, here, c->cend[k]);
        travel += dist - TIME(rdist, k);
        SET(rdist, k, PyFloat_FromDouble(dist));
        SET(nreal, k, PyLong_FromLong(real));
        SET(load, k, PyFloat_FromDouble(ld));
    }
#undef SET
    if (PyErr_Occurred()) return NULL;
    return Py_BuildValue("(ddd)", late_sum, overtime, travel);
}

/* costs(compiled, R, t, nreal, late_max) -> [cost of each visit where it is]
 *   destroy._costs: the travel each placed visit's removal saves, plus its lateness (weighted
 *   by the maximum's weight too when it is at least `late_max`), continuity and stability;
 *   0.0 for a visit not placed. */
static PyObject *native_costs(PyObject *self, PyObject *args) {
    PyObject *cap, *R, *t, *nreal;
    double lm;
    if (!PyArg_ParseTuple(args, "OO!O!O!d", &cap, &PyList_Type, &R, &PyList_Type, &t,
                          &PyList_Type, &nreal, &lm))
        return NULL;
    Compiled *c = get(cap);
    if (c == NULL) return NULL;
    int n = c->n;
    double *out = calloc((size_t)n + 1, sizeof(double));
    int *real = malloc(sizeof(int) * ((size_t)n + 1));
    for (int k = 0; k < c->m && !PyErr_Occurred(); k++) {
        PyObject *nodes = PyList_GET_ITEM(R, k);
        Py_ssize_t L = PyList_GET_SIZE(nodes), nr = 0;
        for (Py_ssize_t j = 0; j < L; j++) {
            int x = INT(nodes, j);
            if (x >= 0 && x < n) real[nr++] = x;
        }
        int shared = INT(nreal, k) > 1;
        int a = c->cstart[k];
        for (Py_ssize_t i = 0; i < nr; i++) {
            int v = real[i], lv = c->loc[v];
            int b = i < nr - 1 ? c->loc[real[i + 1]] : c->cend[k];
            double saved = DD(c, a, lv) + DD(c, lv, b) - (shared ? DD(c, a, b) : 0.0);
            double late = TIME(t, v) - c->close[v];
            double cost = c->w_travel * saved;
            if (late > 0) cost += c->w_late * late + (late >= lm ? c->w_max * late : 0.0);
            if (c->pref[v] >= 0 && c->pref[v] != k) cost += c->w_cont;
            if (c->prev[v] >= 0 && c->prev[v] != k) cost += c->w_stab;
            out[v] = cost;
            a = lv;
        }
    }
    free(real);
    PyObject *list = PyErr_Occurred() ? NULL : PyList_New(n);
    for (int v = 0; list != NULL && v < n; v++) {
        PyObject *f = PyFloat_FromDouble(out[v]);
        if (f == NULL) { Py_CLEAR(list); break; }
        PyList_SET_ITEM(list, v, f);
    }
    free(out);
    return list;
}

static PyMethodDef methods[] = {
    {"compile", native_compile, METH_VARARGS, "The problem's arrays, kept in C."},
    {"scan", native_scan, METH_VARARGS, "Every place of one visit in one route."},
    {"quick", native_quick, METH_VARARGS, "Estimates and bounds for every place."},
    {"quick_best", native_quick_best, METH_VARARGS, "The best estimates over many routes."},
    {"best_single", native_best_single, METH_VARARGS, "repair._best_single's scan"},
    {"pair_search", native_pair_search, METH_VARARGS, "repair._best_pair's search"},
    {"apply", native_apply, METH_VARARGS, "State.insert's loops"},
    {"costs", native_costs, METH_VARARGS, "destroy._costs"},
    {"singles", native_singles, METH_VARARGS, "Every place of one visit in many routes."},
    {"terms", native_terms, METH_VARARGS, "Every term of the objective."},
    {"schedule", native_schedule, METH_VARARGS, "The least fixed point of the times."},
    {"propagate", native_propagate, METH_VARARGS, "The push of an insertion across routes."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_native",
    "The routing search's hot loops in C (see evaluate.py for the reference).", -1, methods,
};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
