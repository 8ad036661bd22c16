/*
 * buf.h - the one growable buffer: bytes (or an array of records) that grow
 * by doubling up to a hard cap, with a sticky error (curl's dynbuf).
 *
 *   struct fitd_buf b;
 *   fitd_buf_init(&b, 1 << 20);           // never more than 1 MiB
 *   fitd_buf_add(&b, head, n);
 *   fitd_buf_printf(&b, "%zu rows\n", rows);
 *   if (fitd_buf_status(&b) != FITD_OK)   // one check at the end
 *           ...;
 *   use b.data, b.len; fitd_buf_release(&b);
 *
 * After the first failure (FITD_ETOOBIG past the cap, FITD_ENOMEM when the
 * memory cannot grow) every later call does nothing and returns that same
 * status, so writers need not check each step. The contents are always
 * NUL-terminated past len (for text), and data is NULL until something is
 * added. Arrays of records use fitd_buf_grow(): it hands back room for one
 * more record at the end, aligned as malloc() aligns. Not thread-safe: a
 * buffer belongs to one thread at a time.
 */
#ifndef FITD_BUF_H
#define FITD_BUF_H

#include <stddef.h>

struct fitd_buf {
	char *data; /* len bytes, then a NUL; NULL while empty */
	size_t len;
	size_t cap; /* bytes allocated */
	size_t max; /* the hard cap on len */
	int status; /* FITD_OK or the first failure */
};

/* An empty buffer that refuses to grow beyond max bytes. */
void fitd_buf_init(struct fitd_buf *b, size_t max);

/* Appends n bytes from p; FITD_OK, FITD_ETOOBIG or FITD_ENOMEM (sticky). */
int fitd_buf_add(struct fitd_buf *b, const void *p, size_t n);

/* Appends formatted text; statuses as fitd_buf_add(). */
int fitd_buf_printf(struct fitd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Makes room for n more bytes at the end, counts them into len and returns
 * where they start (uninitialized); NULL on failure (status set). The pointer
 * is valid until the next call that grows the buffer.
 */
void *fitd_buf_grow(struct fitd_buf *b, size_t n);

/* FITD_OK, or the first failure. */
int fitd_buf_status(const struct fitd_buf *b);

/*
 * Hands the contents over: returns data (the caller frees it; NULL when
 * empty or after a failure) and leaves the buffer empty with its cap.
 */
char *fitd_buf_take(struct fitd_buf *b);

/* Frees the contents; the buffer is empty again, its cap kept. NULL-safe. */
void fitd_buf_release(struct fitd_buf *b);

#endif
