/*
 * pvwasm/runtime.h - the freestanding runtime a wasm driver gets instead of libc (Debian's
 * wasi-libc cannot be linked into a shared-memory module): memory and string functions, a
 * fixed heap, and printf-style logging through the pv_log import.
 */
#ifndef PVWASM_RUNTIME_H
#define PVWASM_RUNTIME_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strcpy(char *dst, const char *src);
/* Decimal to unsigned; *ok set to 0 when `s` is not a number. */
unsigned long pv_strtoul(const char *s, int *ok);

/* The heap: PVWASM_HEAP_SIZE bytes (default 256 KiB) inside the image, so below __heap_base. */
void *malloc(size_t n);
void *calloc(size_t n, size_t size);
void free(void *p);

/* %d %i %u %x %s %c %p %% with optional width and 0-padding; l and z length modifiers. */
int pv_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int pv_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Format and write one line to the domain's log. */
void pv_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
