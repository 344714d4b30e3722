/* The SDK's freestanding runtime: see pvwasm/runtime.h. */
#include <pvwasm/hypercall.h>
#include <pvwasm/runtime.h>

void *memcpy(void *dst, const void *src, size_t n)
{
    /* With -mbulk-memory this is one memory.copy instruction. */
    __builtin_memmove(dst, src, n);
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    __builtin_memmove(dst, src, n);
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    __builtin_memset(dst, c, n);
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b) a++, b++;
    return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (; n > 0; n--, a++, b++) {
        if (*a != *b) return (unsigned char)*a - (unsigned char)*b;
        if (!*a) return 0;
    }
    return 0;
}

char *strcpy(char *dst, const char *src)
{
    char *d = dst;
    while ((*d++ = *src++)) {}
    return dst;
}

unsigned long pv_strtoul(const char *s, int *ok)
{
    unsigned long v = 0;
    *ok = *s != 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') { *ok = 0; return 0; }
        v = v * 10 + (unsigned long)(*s - '0');
    }
    return v;
}

/* ---- the fixed heap: first fit over a list of blocks, neighbours merged on free ---- */

#ifndef PVWASM_HEAP_SIZE
#define PVWASM_HEAP_SIZE (256 * 1024)
#endif

struct block {
    size_t size; /* bytes after the header */
    int used;
    struct block *next;
};

static _Alignas(16) unsigned char heap[PVWASM_HEAP_SIZE];
static struct block *heap_head;

void *malloc(size_t n)
{
    if (!heap_head) {
        heap_head = (struct block *)heap;
        heap_head->size = PVWASM_HEAP_SIZE - sizeof(struct block);
        heap_head->used = 0;
        heap_head->next = 0;
    }
    n = (n + 15) & ~(size_t)15;
    for (struct block *b = heap_head; b; b = b->next) {
        if (b->used || b->size < n) continue;
        if (b->size >= n + sizeof(struct block) + 16) {
            struct block *rest = (struct block *)((unsigned char *)(b + 1) + n);
            rest->size = b->size - n - sizeof(struct block);
            rest->used = 0;
            rest->next = b->next;
            b->next = rest;
            b->size = n;
        }
        b->used = 1;
        return b + 1;
    }
    return 0;
}

void *calloc(size_t n, size_t size)
{
    void *p = malloc(n * size);
    if (p) memset(p, 0, n * size);
    return p;
}

void free(void *p)
{
    if (!p) return;
    struct block *b = (struct block *)p - 1;
    b->used = 0;
    for (b = heap_head; b; b = b->next) {
        while (!b->used && b->next && !b->next->used) {
            b->size += sizeof(struct block) + b->next->size;
            b->next = b->next->next;
        }
    }
}

/* ---- formatting ---- */

struct out { char *buf; size_t size, len; };

static void put(struct out *o, char c)
{
    if (o->len + 1 < o->size) o->buf[o->len] = c;
    o->len++;
}

static void put_num(struct out *o, unsigned long long v, unsigned base, int neg, int width, char pad)
{
    char tmp[24];
    int n = 0;
    do { tmp[n++] = "0123456789abcdef"[v % base]; v /= base; } while (v);
    if (neg) tmp[n++] = '-';
    for (int i = n; i < width; i++) put(o, pad);
    while (n) put(o, tmp[--n]);
}

int pv_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct out o = { buf, size, 0 };
    for (; *fmt; fmt++) {
        if (*fmt != '%') { put(&o, *fmt); continue; }
        fmt++;
        char pad = ' ';
        int width = 0, lng = 0;
        if (*fmt == '0') { pad = '0'; fmt++; }
        while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l' || *fmt == 'z') { lng += *fmt == 'l' ? 1 : 1; fmt++; }
        switch (*fmt) {
        case 'd': case 'i': {
            long long v = lng >= 2 ? va_arg(ap, long long) : lng ? va_arg(ap, long) : va_arg(ap, int);
            put_num(&o, v < 0 ? (unsigned long long)-v : (unsigned long long)v, 10, v < 0, width, pad);
            break;
        }
        case 'u': case 'x': {
            unsigned long long v = lng >= 2 ? va_arg(ap, unsigned long long)
                                 : lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
            put_num(&o, v, *fmt == 'x' ? 16 : 10, 0, width, pad);
            break;
        }
        case 'p': put(&o, '0'); put(&o, 'x'); put_num(&o, (uintptr_t)va_arg(ap, void *), 16, 0, 0, ' '); break;
        case 's': { const char *s = va_arg(ap, const char *); if (!s) s = "(null)"; while (*s) put(&o, *s++); break; }
        case 'c': put(&o, (char)va_arg(ap, int)); break;
        case '%': put(&o, '%'); break;
        default: put(&o, '%'); if (*fmt) put(&o, *fmt); else fmt--; break;
        }
    }
    if (size) buf[o.len < size ? o.len : size - 1] = 0;
    return (int)o.len;
}

int pv_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = pv_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

void pv_printf(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = pv_vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    pv_log(line, n < (int)sizeof line ? (size_t)n : sizeof line - 1);
}
