/*
 * frame.c - the dataset file: writing a frame to it, mapping it back
 * read-only with no copy, and releasing frames of either origin.
 *
 * Format, version 1. Every integer is little-endian; offsets are absolute
 * byte offsets from the start of the file unless said otherwise.
 *
 *   header, 64 bytes
 *      0  magic       8 bytes "FITDSET\0"
 *      8  u32 version 1
 *     12  u32 header  64 (bytes in this header)
 *     16  u64 nrows
 *     24  u64 ncols
 *     32  u64 meta    bytes of metadata: header, descriptors, level tables, strings
 *     40  u64 size    bytes of the whole file
 *     48  u64 strtab  offset of the string table (it ends at meta)
 *     56  u64 check   FNV-1a 64 of bytes [0, 56) and [64, meta)
 *   ncols column descriptors, 64 bytes each, from offset 64
 *      0  u32 type     0 numeric, 1 categorical
 *      4  u32 zero
 *      8  u64 name     offset of the name in the string table
 *     16  u64 name_len bytes, without the NUL that follows it there
 *     24  u64 missing  rows without a value
 *     32  u64 data     offset of the values, a multiple of 64
 *     40  u64 nlevels  categorical: levels; numeric: 0
 *     48  u64 levels   categorical: offset of nlevels level entries; numeric: 0
 *     56  u64 zero
 *   level entries, 16 bytes each: u64 offset in the string table, u64 length
 *   string table: UTF-8 strings, each followed by one NUL
 *   zero padding up to a multiple of 64
 *   per column, in order: nrows f64 (numeric, NaN = missing) or nrows i32
 *   (categorical, -1 = missing), then zero padding up to a multiple of 64.
 *
 * Levels are stored sorted in strictly increasing byte order. Because every
 * data section is 64-byte aligned in the file and mmap() maps at a page
 * boundary, fit_frame_load() points num/cat straight into the mapping.
 * Loading checks the metadata checksum, that every data section sits
 * exactly where the layout above puts it and the file ends with the last,
 * every name and level, and every categorical code, so a
 * truncated or damaged file fails with FITD_EFORMAT and is never read out of
 * bounds. Numeric values are not checked: any double is safe to read.
 */
#include "worker/fit/frame_priv.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the dataset file stores values in host order, which must be little-endian"
#endif

#define FRAME_MAGIC   "FITDSET"
#define FRAME_VERSION 1
#define FRAME_HEADER  64
#define FRAME_DESC    64
#define FRAME_LEVEL   16
#define FRAME_ALIGN   64

/* A column descriptor, decoded. */
struct frame_desc {
	uint32_t type;
	uint32_t zero0;
	uint64_t name;
	uint64_t name_len;
	uint64_t missing;
	uint64_t data;
	uint64_t nlevels;
	uint64_t levels;
	uint64_t zero1;
};

/* ---- frames in memory ---- */

int fit__frame_alloc(size_t nrows, size_t ncols, size_t nblocks, struct fit_frame **out)
{
	struct fit__frame_store *st = NULL;
	struct fit_frame *f = NULL;
	struct fit_column *cols = NULL;

	*out = NULL;
	f = calloc(1, sizeof(*f));
	st = calloc(1, sizeof(*st));
	cols = calloc(ncols ? ncols : 1, sizeof(*cols));
	if (f == NULL || st == NULL || cols == NULL)
		goto fail;
	st->blocks = calloc(nblocks ? nblocks : 1, sizeof(*st->blocks));
	if (st->blocks == NULL)
		goto fail;
	st->cap = nblocks;
	f->nrows = nrows;
	f->ncols = ncols;
	f->cols = cols;
	f->priv = st;
	*out = f;
	return FITD_OK;
fail:
	if (st)
		free(st->blocks);
	free(st);
	free(cols);
	free(f);
	return FITD_ENOMEM;
}

void fit__frame_own(struct fit_frame *f, void *block)
{
	struct fit__frame_store *st = f->priv;

	if (block == NULL)
		return;
	if (st->nblocks == st->cap)
		abort();
	st->blocks[st->nblocks++] = block;
}

void fit_frame_free(struct fit_frame *frame)
{
	struct fit__frame_store *st;

	if (frame == NULL)
		return;
	st = frame->priv;
	if (st != NULL) {
		for (size_t i = 0; i < st->nblocks; i++)
			free(st->blocks[i]);
		free(st->blocks);
		if (st->map != NULL)
			munmap(st->map, st->map_len);
		free(st);
	}
	free((void *)frame->cols);
	free(frame);
}

long fit_frame_find(const struct fit_frame *frame, const char *name)
{
	if (frame == NULL || name == NULL)
		return -1;
	for (size_t i = 0; i < frame->ncols; i++)
		if (strcmp(frame->cols[i].name, name) == 0)
			return (long)i;
	return -1;
}

/* ---- little helpers ---- */

static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t meta_checksum(const unsigned char *meta, size_t meta_len)
{
	uint64_t h = fnv1a(0xcbf29ce484222325ULL, meta, 56);

	return fnv1a(h, meta + FRAME_HEADER, meta_len - FRAME_HEADER);
}

static void put_u32(unsigned char *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static void put_u64(unsigned char *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static uint32_t get_u32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static uint64_t get_u64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

/* a += b, false on overflow. */
static bool add_ok(uint64_t *a, uint64_t b)
{
	return !__builtin_add_overflow(*a, b, a);
}

static uint64_t align_up(uint64_t v)
{
	return (v + FRAME_ALIGN - 1) & ~(uint64_t)(FRAME_ALIGN - 1);
}

static size_t elem_size(enum fit_col_type t)
{
	return t == FIT_COL_NUMERIC ? sizeof(double) : sizeof(int32_t);
}

/* ---- writing ---- */

/* Sizes of the metadata parts of a frame, checked for overflow. */
struct frame_layout {
	uint64_t levels; /* offset of the first level entry */
	uint64_t strtab; /* offset of the string table */
	uint64_t meta;	 /* end of the string table */
	uint64_t data;	 /* first data section */
	uint64_t size;	 /* the whole file */
};

static int plan_layout(const struct fit_frame *f, struct frame_layout *lay)
{
	uint64_t nlev = 0, strings = 0, pos, col_bytes;

	for (size_t i = 0; i < f->ncols; i++) {
		const struct fit_column *c = &f->cols[i];

		if (!add_ok(&strings, strlen(c->name) + 1) || !add_ok(&nlev, c->nlevels))
			return FITD_ETOOBIG;
		for (size_t l = 0; l < c->nlevels; l++)
			if (!add_ok(&strings, strlen(c->levels[l]) + 1))
				return FITD_ETOOBIG;
	}
	if (f->ncols > (UINT64_MAX - FRAME_HEADER) / FRAME_DESC || nlev > UINT64_MAX / FRAME_LEVEL)
		return FITD_ETOOBIG;
	lay->levels = FRAME_HEADER + (uint64_t)f->ncols * FRAME_DESC;
	lay->strtab = lay->levels;
	if (!add_ok(&lay->strtab, nlev * FRAME_LEVEL))
		return FITD_ETOOBIG;
	lay->meta = lay->strtab;
	if (!add_ok(&lay->meta, strings) || lay->meta > SIZE_MAX - FRAME_ALIGN)
		return FITD_ETOOBIG;
	lay->data = align_up(lay->meta);
	pos = lay->data;
	for (size_t i = 0; i < f->ncols; i++) {
		if (__builtin_mul_overflow((uint64_t)f->nrows, elem_size(f->cols[i].type),
					   &col_bytes) ||
		    !add_ok(&pos, col_bytes) || pos > UINT64_MAX - FRAME_ALIGN)
			return FITD_ETOOBIG;
		pos = align_up(pos);
	}
	lay->size = pos;
	return FITD_OK;
}

/* Appends a NUL-terminated string to the string table; returns its offset there. */
static uint64_t put_string(unsigned char *meta, const struct frame_layout *lay, uint64_t *used,
			   const char *s, uint64_t *len)
{
	uint64_t off = *used;

	*len = strlen(s);
	memcpy(meta + lay->strtab + off, s, *len + 1);
	*used += *len + 1;
	return off;
}

static void fill_meta(const struct fit_frame *f, const struct frame_layout *lay,
		      unsigned char *meta)
{
	uint64_t used = 0, lev = lay->levels, data = lay->data, len;

	memcpy(meta, FRAME_MAGIC, 8);
	put_u32(meta + 8, FRAME_VERSION);
	put_u32(meta + 12, FRAME_HEADER);
	put_u64(meta + 16, f->nrows);
	put_u64(meta + 24, f->ncols);
	put_u64(meta + 32, lay->meta);
	put_u64(meta + 40, lay->size);
	put_u64(meta + 48, lay->strtab);
	for (size_t i = 0; i < f->ncols; i++) {
		const struct fit_column *c = &f->cols[i];
		unsigned char *d = meta + FRAME_HEADER + i * FRAME_DESC;
		uint64_t name = put_string(meta, lay, &used, c->name, &len);

		put_u32(d, (uint32_t)c->type);
		put_u64(d + 8, name);
		put_u64(d + 16, len);
		put_u64(d + 24, c->missing);
		put_u64(d + 32, data);
		data = align_up(data + (uint64_t)f->nrows * elem_size(c->type));
		if (c->type != FIT_COL_CATEGORICAL)
			continue;
		put_u64(d + 40, c->nlevels);
		put_u64(d + 48, lev);
		for (size_t l = 0; l < c->nlevels; l++, lev += FRAME_LEVEL) {
			put_u64(meta + lev, put_string(meta, lay, &used, c->levels[l], &len));
			put_u64(meta + lev + 8, len);
		}
	}
	put_u64(meta + 56, meta_checksum(meta, lay->meta));
}

static int write_all(int fd, const void *buf, size_t len, struct fitd_error *err)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == ENOSPC || errno == EDQUOT))
			return fitd_error_set(err, FITD_ENOSPC, NULL,
					      "writing the dataset file: %s", strerror(errno));
		if (w < 0)
			return fitd_error_set(err, FITD_EIO, NULL, "writing the dataset file: %s",
					      strerror(errno));
		if (w == 0)
			return fitd_error_set(err, FITD_EIO, NULL,
					      "writing the dataset file: no progress");
		p += w;
		len -= (size_t)w;
	}
	return FITD_OK;
}

static int write_columns(const struct fit_frame *f, int fd, struct fitd_error *err)
{
	static const unsigned char zeros[FRAME_ALIGN];
	int rc = FITD_OK;

	for (size_t i = 0; i < f->ncols && rc == FITD_OK; i++) {
		const struct fit_column *c = &f->cols[i];
		size_t bytes = f->nrows * elem_size(c->type);
		const void *src = c->type == FIT_COL_NUMERIC ? (const void *)c->num
							     : (const void *)c->cat;

		rc = write_all(fd, src, bytes, err);
		if (rc == FITD_OK && bytes % FRAME_ALIGN != 0)
			rc = write_all(fd, zeros, FRAME_ALIGN - bytes % FRAME_ALIGN, err);
	}
	return rc;
}

int fit_frame_write(const struct fit_frame *frame, int fd, struct fitd_error *err)
{
	struct frame_layout lay;
	unsigned char *meta = NULL;
	int rc;

	if (frame == NULL || fd < 0)
		return fitd_error_set(err, FITD_EINVAL, NULL, "no frame or file to write");
	rc = plan_layout(frame, &lay);
	if (rc != FITD_OK)
		return fitd_error_set(err, rc, NULL, "the dataset is too large to store");
	meta = calloc(1, (size_t)lay.data);
	if (meta == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "dataset file header");
	fill_meta(frame, &lay, meta);
	rc = write_all(fd, meta, (size_t)lay.data, err);
	if (rc == FITD_OK)
		rc = write_columns(frame, fd, err);
	free(meta);
	return rc;
}

/* ---- loading ---- */

/* What load validation needs about the mapped file. */
struct frame_file {
	const unsigned char *p;
	uint64_t size;
	uint64_t nrows;
	uint64_t ncols;
	uint64_t meta;
	uint64_t strtab;
};

static int bad(struct fitd_error *err, const char *path, const char *what)
{
	return fitd_error_set(err, FITD_EFORMAT, "bad_dataset_file", "%s: %s", path, what);
}

static int check_header(struct frame_file *ff, const char *path, struct fitd_error *err)
{
	const unsigned char *p = ff->p;

	if (ff->size < FRAME_HEADER || memcmp(p, FRAME_MAGIC, 8) != 0)
		return bad(err, path, "not a dataset file");
	if (get_u32(p + 8) != FRAME_VERSION)
		return bad(err, path, "unsupported dataset file version");
	ff->nrows = get_u64(p + 16);
	ff->ncols = get_u64(p + 24);
	ff->meta = get_u64(p + 32);
	ff->strtab = get_u64(p + 48);
	if (get_u32(p + 12) != FRAME_HEADER || get_u64(p + 40) != ff->size)
		return bad(err, path, "truncated or wrong size");
	if (ff->meta > ff->size || ff->meta < FRAME_HEADER ||
	    ff->ncols > (ff->meta - FRAME_HEADER) / FRAME_DESC ||
	    ff->strtab < FRAME_HEADER + ff->ncols * FRAME_DESC || ff->strtab > ff->meta ||
	    ff->nrows > ff->size)
		return bad(err, path, "sizes out of range");
	if (get_u64(p + 56) != meta_checksum(p, (size_t)ff->meta))
		return bad(err, path, "metadata checksum mismatch");
	if (ff->meta > ff->strtab && p[ff->meta - 1] != '\0')
		return bad(err, path, "string table not terminated");
	return FITD_OK;
}

/* A string of the string table, checked: in bounds, NUL-terminated, no NUL inside. */
static const char *table_string(const struct frame_file *ff, uint64_t off, uint64_t len)
{
	uint64_t tab_len = ff->meta - ff->strtab;
	const char *s;

	if (off >= tab_len || len >= tab_len - off)
		return NULL;
	s = (const char *)ff->p + ff->strtab + off;
	if (s[len] != '\0' || memchr(s, '\0', (size_t)len) != NULL)
		return NULL;
	return s;
}

static void read_desc(const struct frame_file *ff, size_t i, struct frame_desc *d)
{
	const unsigned char *p = ff->p + FRAME_HEADER + i * FRAME_DESC;

	d->type = get_u32(p);
	d->zero0 = get_u32(p + 4);
	d->name = get_u64(p + 8);
	d->name_len = get_u64(p + 16);
	d->missing = get_u64(p + 24);
	d->data = get_u64(p + 32);
	d->nlevels = get_u64(p + 40);
	d->levels = get_u64(p + 48);
	d->zero1 = get_u64(p + 56);
}

static bool level_less(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	return c < 0 || (c == 0 && alen < blen);
}

/* Points levels[0..nlevels) at the column's level strings, checking their order. */
static bool bind_levels(const struct frame_file *ff, const struct frame_desc *d,
			const char **levels)
{
	size_t prev_len = 0;

	if (d->levels % 8 != 0 || d->levels < FRAME_HEADER + ff->ncols * FRAME_DESC ||
	    d->levels > ff->strtab || d->nlevels > (ff->strtab - d->levels) / FRAME_LEVEL)
		return false;
	for (uint64_t l = 0; l < d->nlevels; l++) {
		const unsigned char *e = ff->p + d->levels + l * FRAME_LEVEL;
		uint64_t len = get_u64(e + 8);

		levels[l] = table_string(ff, get_u64(e), len);
		if (levels[l] == NULL)
			return false;
		if (l > 0 && !level_less(levels[l - 1], prev_len, levels[l], (size_t)len))
			return false;
		prev_len = (size_t)len;
	}
	return true;
}

/* Every code is -1 or a level, and the -1s number d->missing. */
static bool codes_valid(const int32_t *cat, uint64_t nrows, const struct frame_desc *d)
{
	uint64_t missing = 0;
	int64_t nlev = (int64_t)d->nlevels;

	for (uint64_t r = 0; r < nrows; r++) {
		if (cat[r] < -1 || cat[r] >= nlev)
			return false;
		missing += cat[r] == -1;
	}
	return missing == d->missing;
}

/* Binds column c; *pos is where its data must start, and becomes where the next one's does. */
static bool bind_column(const struct frame_file *ff, const struct frame_desc *d,
			struct fit_column *c, const char **levels, uint64_t *pos)
{
	uint64_t bytes;

	if (d->type > FIT_COL_CATEGORICAL || d->zero0 != 0 || d->zero1 != 0 || d->name_len == 0 ||
	    d->missing > ff->nrows || d->data != *pos)
		return false;
	c->type = (enum fit_col_type)d->type;
	c->name = table_string(ff, d->name, d->name_len);
	bytes = ff->nrows * elem_size(c->type);
	if (c->name == NULL || d->data > ff->size || bytes > ff->size - d->data)
		return false;
	*pos = align_up(d->data + bytes);
	c->missing = (size_t)d->missing;
	if (c->type == FIT_COL_NUMERIC) {
		c->num = (const double *)(ff->p + d->data);
		return d->nlevels == 0 && d->levels == 0;
	}
	if (d->nlevels > INT32_MAX || !bind_levels(ff, d, levels))
		return false;
	c->cat = (const int32_t *)(ff->p + d->data);
	c->nlevels = (size_t)d->nlevels;
	c->levels = levels;
	return codes_valid(c->cat, ff->nrows, d);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* FITD_OK when the column names are unique, FITD_EFORMAT when not, or FITD_ENOMEM. */
static int check_names(const struct fit_frame *f)
{
	const char **names = malloc((f->ncols ? f->ncols : 1) * sizeof(*names));
	int rc = FITD_OK;

	if (names == NULL)
		return FITD_ENOMEM;
	for (size_t i = 0; i < f->ncols; i++)
		names[i] = f->cols[i].name;
	qsort(names, f->ncols, sizeof(*names), name_cmp);
	for (size_t i = 1; rc == FITD_OK && i < f->ncols; i++)
		if (strcmp(names[i - 1], names[i]) == 0)
			rc = FITD_EFORMAT;
	free(names);
	return rc;
}

/* Total levels over all descriptors, bounded by the file size. */
static bool count_levels(const struct frame_file *ff, uint64_t *total)
{
	struct frame_desc d;

	*total = 0;
	for (size_t i = 0; i < ff->ncols; i++) {
		read_desc(ff, i, &d);
		if (d.nlevels > ff->size / FRAME_LEVEL || !add_ok(total, d.nlevels))
			return false;
	}
	return *total <= ff->size / FRAME_LEVEL;
}

static int bind_frame(const struct frame_file *ff, const char *path, struct fit_frame **out,
		      struct fitd_error *err)
{
	struct fit_frame *f = NULL;
	const char **levels = NULL;
	uint64_t total, pos = align_up(ff->meta);
	int rc;

	if (!count_levels(ff, &total))
		return bad(err, path, "level counts out of range");
	rc = fit__frame_alloc((size_t)ff->nrows, (size_t)ff->ncols, 1, &f);
	if (rc == FITD_OK) {
		levels = malloc((size_t)(total ? total : 1) * sizeof(*levels));
		fit__frame_own(f, levels);
	}
	if (rc != FITD_OK || levels == NULL) {
		fit_frame_free(f);
		return fitd_error_set(err, FITD_ENOMEM, NULL, "loading %s", path);
	}
	for (size_t i = 0; i < ff->ncols; i++) {
		struct frame_desc d;

		read_desc(ff, i, &d);
		if (!bind_column(ff, &d, fit__frame_col(f, i), levels, &pos)) {
			fit_frame_free(f);
			return fitd_error_set(err, FITD_EFORMAT, "bad_dataset_file",
					      "%s: column %zu is damaged", path, i + 1);
		}
		levels += d.nlevels;
	}
	rc = pos != ff->size ? FITD_EFORMAT : check_names(f);
	if (rc != FITD_OK) {
		fit_frame_free(f);
		if (rc == FITD_ENOMEM)
			return fitd_error_set(err, FITD_ENOMEM, NULL, "loading %s", path);
		return bad(err, path, pos != ff->size ? "wrong size" : "duplicate column names");
	}
	*out = f;
	return FITD_OK;
}

static int map_file(const char *path, void **map, size_t *len, struct fitd_error *err)
{
	struct stat sb;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc = FITD_OK;

	if (fd < 0)
		return fitd_error_set(err, errno == ENOENT ? FITD_ENOTFOUND : FITD_EIO, NULL,
				      "opening %s: %s", path, strerror(errno));
	if (fstat(fd, &sb) != 0) {
		rc = fitd_error_set(err, FITD_EIO, NULL, "stat %s: %s", path, strerror(errno));
		goto out;
	}
	if ((uint64_t)sb.st_size < FRAME_HEADER || (uint64_t)sb.st_size > SIZE_MAX) {
		rc = bad(err, path, "truncated or wrong size");
		goto out;
	}
	*len = (size_t)sb.st_size;
	*map = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (*map == MAP_FAILED) {
		*map = NULL;
		rc = fitd_error_set(err, errno == ENOMEM ? FITD_ENOMEM : FITD_EIO, NULL,
				    "mapping %s: %s", path, strerror(errno));
	}
out:
	close(fd);
	return rc;
}

int fit_frame_load(const char *path, struct fit_frame **out, struct fitd_error *err)
{
	struct frame_file ff = { 0 };
	void *map = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = map_file(path, &map, &len, err);
	if (rc != FITD_OK)
		return rc;
	ff.p = map;
	ff.size = len;
	rc = check_header(&ff, path, err);
	if (rc == FITD_OK)
		rc = bind_frame(&ff, path, out, err);
	if (rc != FITD_OK) {
		munmap(map, len);
		return rc;
	}
	((struct fit__frame_store *)(*out)->priv)->map = map;
	((struct fit__frame_store *)(*out)->priv)->map_len = len;
	return FITD_OK;
}
