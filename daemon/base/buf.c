/*
 * buf.c - the capped growable buffer of buf.h. Capacity doubles from 64
 * bytes, and the NUL after the contents is always inside the allocation.
 */
#include "daemon/base/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/status.h"

void fitd_buf_init(struct fitd_buf *b, size_t max)
{
	*b = (struct fitd_buf){ .max = max };
}

/* Room for more bytes plus the NUL, or the sticky status. */
static int reserve(struct fitd_buf *b, size_t more)
{
	size_t need, cap = b->cap ? b->cap : 64;
	char *grown;

	if (b->status != FITD_OK)
		return b->status;
	if (more > b->max - b->len || b->len + more == SIZE_MAX)
		return b->status = FITD_ETOOBIG;
	need = b->len + more + 1;
	if (need <= b->cap)
		return FITD_OK;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	grown = realloc(b->data, cap);
	if (grown == NULL)
		return b->status = FITD_ENOMEM;
	b->data = grown;
	b->cap = cap;
	return FITD_OK;
}

void *fitd_buf_grow(struct fitd_buf *b, size_t n)
{
	char *at;

	if (reserve(b, n) != FITD_OK)
		return NULL;
	at = b->data + b->len;
	b->len += n;
	b->data[b->len] = '\0';
	return at;
}

int fitd_buf_add(struct fitd_buf *b, const void *p, size_t n)
{
	char *at = fitd_buf_grow(b, n);

	if (at == NULL)
		return b->status;
	if (n > 0)
		memcpy(at, p, n);
	return FITD_OK;
}

int fitd_buf_printf(struct fitd_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->status != FITD_OK)
		return b->status;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return b->status = FITD_EINVAL;
	if (reserve(b, (size_t)n) != FITD_OK)
		return b->status;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return FITD_OK;
}

int fitd_buf_status(const struct fitd_buf *b)
{
	return b->status;
}

char *fitd_buf_take(struct fitd_buf *b)
{
	char *data = b->status == FITD_OK ? b->data : NULL;

	if (data == NULL)
		free(b->data);
	fitd_buf_init(b, b->max);
	return data;
}

void fitd_buf_release(struct fitd_buf *b)
{
	if (b == NULL)
		return;
	free(b->data);
	fitd_buf_init(b, b->max);
}
