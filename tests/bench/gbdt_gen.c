/*
 * gbdt_gen.c - the tables of the tree benchmark (tests/bench/gbdt.sh), in
 * one small binary format that fitd's driver and the Python peers both read.
 *
 *   gbdt_gen higgs   OUT    1,000,000 x 28, binary: 21 "measured" inputs
 *                           (momenta, angles) and 7 derived ones (masses),
 *                           the label drawn from a nonlinear score
 *   gbdt_gen letters OUT    20,000 x 16 integer inputs 0..15, 26 classes
 *                           (class prototypes plus noise)
 *   gbdt_gen mixed   OUT    100,000 rows: 10 numeric inputs with 20% missing
 *                           values and categorical inputs of 10, 100 and
 *                           1,000 levels; a regression target in which the
 *                           levels, the values and their missingness matter
 *   gbdt_gen csv IN OUT     a gentable CSV (x0..,target, binary target)
 *
 * The first 80% of the rows train, the rest test. Format (little-endian):
 *
 *   "FITDGB01", u64 nrows, ncols, ntrain, nclasses (0: regression)
 *   per column: u8 type (0 numeric, 1 categorical), u32 levels, char name[27]
 *   per column: nrows f64 (NAN = missing) or nrows i32 codes (-1 = missing);
 *   categorical levels are named "L<code>"
 *   the target: nrows i32 labels, or nrows f64 values
 *
 * Everything derives from a fixed seed (xoshiro256** through splitmix64,
 * Box-Muller normals), so the same command always writes the same bytes.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rng {
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t next_u64(struct rng *r)
{
	uint64_t *s = r->s, res = ((s[1] * 5) << 7 | (s[1] * 5) >> 57) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = s[3] << 45 | s[3] >> 19;
	return res;
}

static void seed(struct rng *r, uint64_t x)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static double uniform(struct rng *r)
{
	return ((double)(next_u64(r) >> 11) + 0.5) * 0x1.0p-53;
}

static double normal(struct rng *r)
{
	return sqrt(-2.0 * log(uniform(r))) * cos(2.0 * M_PI * uniform(r));
}

struct table {
	uint64_t nrows, ncols, nclasses;
	uint8_t *type;
	uint32_t *levels;
	char (*name)[27];
	double **num;
	int32_t **cat;
	double *y;
	int32_t *label;
};

static void table_init(struct table *t, uint64_t nrows, uint64_t ncols, uint64_t nclasses)
{
	t->nrows = nrows;
	t->ncols = ncols;
	t->nclasses = nclasses;
	t->type = calloc(ncols, 1);
	t->levels = calloc(ncols, sizeof(uint32_t));
	t->name = calloc(ncols, sizeof(*t->name));
	t->num = calloc(ncols, sizeof(double *));
	t->cat = calloc(ncols, sizeof(int32_t *));
	t->y = nclasses ? NULL : calloc(nrows, sizeof(double));
	t->label = nclasses ? calloc(nrows, sizeof(int32_t)) : NULL;
}

static void column(struct table *t, uint64_t j, const char *name, uint32_t levels)
{
	snprintf(t->name[j], sizeof(t->name[j]), "%s", name);
	t->type[j] = levels > 0;
	t->levels[j] = levels;
	if (levels > 0)
		t->cat[j] = calloc(t->nrows, sizeof(int32_t));
	else
		t->num[j] = calloc(t->nrows, sizeof(double));
}

static int table_write(const struct table *t, const char *path)
{
	FILE *f = fopen(path, "wb");
	uint64_t head[4] = { t->nrows, t->ncols, t->nrows * 4 / 5, t->nclasses };
	int ok = f != NULL;

	ok = ok && fwrite("FITDGB01", 1, 8, f) == 8 && fwrite(head, 8, 4, f) == 4;
	for (uint64_t j = 0; ok && j < t->ncols; j++)
		ok = fwrite(&t->type[j], 1, 1, f) == 1 && fwrite(&t->levels[j], 4, 1, f) == 1 &&
		     fwrite(t->name[j], 1, 27, f) == 27;
	for (uint64_t j = 0; ok && j < t->ncols; j++)
		ok = t->type[j] ? fwrite(t->cat[j], 4, t->nrows, f) == t->nrows
				: fwrite(t->num[j], 8, t->nrows, f) == t->nrows;
	if (ok)
		ok = t->nclasses ? fwrite(t->label, 4, t->nrows, f) == t->nrows
				 : fwrite(t->y, 8, t->nrows, f) == t->nrows;
	if (f != NULL && fclose(f) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

/* Invariant mass of two "particles" (pt, eta-like, phi), as Higgs's derived inputs. */
static double mass(double pt1, double e1, double p1, double pt2, double e2, double p2)
{
	return sqrt(fabs(2.0 * pt1 * pt2 * (cosh(e1 - e2) - cos(p1 - p2))));
}

static int higgs(const char *out)
{
	struct table t;
	struct rng r;
	char name[16];

	table_init(&t, 1000000, 28, 2);
	seed(&r, 28);
	for (uint64_t j = 0; j < 28; j++) {
		snprintf(name, sizeof(name), "x%llu", (unsigned long long)j);
		column(&t, j, name, 0);
	}
	for (uint64_t i = 0; i < t.nrows; i++) {
		double x[28], s;

		for (int j = 0; j < 21; j++) /* triples (pt, eta, phi) */
			x[j] = j % 3 == 0   ? fabs(normal(&r)) * 0.7 + 0.3
			       : j % 3 == 1 ? 1.5 * normal(&r)
					    : M_PI * (2.0 * uniform(&r) - 1.0);
		for (int j = 0; j < 7; j++)
			x[21 + j] = mass(x[3 * j], x[3 * j + 1], x[3 * j + 2], x[(3 * j + 3) % 21],
					 x[(3 * j + 4) % 21], x[(3 * j + 5) % 21]);
		s = 1.2 * tanh(x[21] - 1.0) - 0.8 * fabs(x[22] - 1.3) + 0.6 * x[0] * x[3] +
		    0.5 * sin(x[2] - x[5]) * x[6] + 0.4 * (x[24] > 1.2) - 0.3 * x[10] * x[10] +
		    0.3 * x[26] - 0.25 * x[13] * x[16] + 0.2 * cos(x[8]) - 0.2;
		for (int j = 0; j < 28; j++)
			t.num[j][i] = x[j];
		t.label[i] = uniform(&r) < 1.0 / (1.0 + exp(-1.5 * s));
	}
	return table_write(&t, out);
}

static int letters(const char *out)
{
	struct table t;
	struct rng r;
	double proto[26][16];
	char name[16];

	table_init(&t, 20000, 16, 26);
	seed(&r, 26);
	for (int c = 0; c < 26; c++)
		for (int j = 0; j < 16; j++)
			proto[c][j] = 2.0 + 11.0 * uniform(&r);
	for (uint64_t j = 0; j < 16; j++) {
		snprintf(name, sizeof(name), "x%llu", (unsigned long long)j);
		column(&t, j, name, 0);
	}
	for (uint64_t i = 0; i < t.nrows; i++) {
		int c = (int)(uniform(&r) * 26);

		for (int j = 0; j < 16; j++) {
			double v = round(proto[c][j] + 2.5 * normal(&r) +
					 (j > 0 ? 0.3 * (proto[c][j - 1] - 7.5) : 0.0));

			t.num[j][i] = v < 0 ? 0 : v > 15 ? 15 : v;
		}
		t.label[i] = c;
	}
	return table_write(&t, out);
}

static int mixed(const char *out)
{
	static const uint32_t lv[3] = { 10, 100, 1000 };
	double *effect[3];
	struct table t;
	struct rng r;
	char name[16];

	table_init(&t, 100000, 13, 0);
	seed(&r, 13);
	for (int c = 0; c < 3; c++) {
		effect[c] = malloc(lv[c] * sizeof(double));
		for (uint32_t l = 0; l < lv[c]; l++)
			effect[c][l] = normal(&r) * (c == 2 ? 0.8 : 1.0);
		snprintf(name, sizeof(name), "c%u", lv[c]);
		column(&t, 10 + (uint64_t)c, name, lv[c]);
	}
	for (uint64_t j = 0; j < 10; j++) {
		snprintf(name, sizeof(name), "x%llu", (unsigned long long)j);
		column(&t, j, name, 0);
	}
	for (uint64_t i = 0; i < t.nrows; i++) {
		double x[10], s = 0.0;
		int32_t code[3];

		for (int j = 0; j < 10; j++)
			x[j] = normal(&r);
		for (int c = 0; c < 3; c++) /* skewed level frequencies: rare levels exist */
			code[c] = (int32_t)(lv[c] * pow(uniform(&r), 1.6));
		s = 1.5 * sin(x[0]) + x[1] * x[2] + 0.8 * (x[3] > 0.5) + 0.5 * x[4] +
		    effect[0][code[0]] + effect[1][code[1]] + effect[2][code[2]];
		for (int j = 0; j < 10; j++) {
			int miss = uniform(&r) < 0.2;

			t.num[j][i] = miss ? NAN : x[j];
			if (miss && j < 3)
				s += 0.7; /* missingness itself carries signal */
		}
		for (int c = 0; c < 3; c++)
			t.cat[10 + c][i] = uniform(&r) < 0.05 ? -1 : code[c];
		t.y[i] = s + 0.5 * normal(&r);
	}
	return table_write(&t, out);
}

/* A gentable CSV with a 0/1 target as a binary table. */
static int from_csv(const char *in, const char *out)
{
	FILE *f = fopen(in, "rb");
	char *line = NULL, *p;
	size_t cap = 0, ncols = 0, n = 0, rcap = 1 << 16;
	struct table t;

	if (f == NULL || getline(&line, &cap, f) <= 0)
		return -1;
	for (p = line; *p; p++)
		ncols += *p == ',';
	table_init(&t, rcap, ncols, 2);
	for (size_t j = 0; j < ncols; j++) {
		char name[32];

		snprintf(name, sizeof(name), "x%zu", j);
		column(&t, j, name, 0);
	}
	while (getline(&line, &cap, f) > 0) {
		if (n == rcap) {
			rcap *= 2;
			for (size_t j = 0; j < ncols; j++)
				t.num[j] = realloc(t.num[j], rcap * sizeof(double));
			t.label = realloc(t.label, rcap * sizeof(int32_t));
		}
		p = line;
		for (size_t j = 0; j < ncols; j++) {
			t.num[j][n] = strtod(p, &p);
			p++;
		}
		t.label[n++] = (int32_t)strtol(p, NULL, 10);
	}
	fclose(f);
	free(line);
	t.nrows = n;
	return table_write(&t, out);
}

int main(int argc, char **argv)
{
	int rc = -1;

	if (argc == 3 && strcmp(argv[1], "higgs") == 0)
		rc = higgs(argv[2]);
	else if (argc == 3 && strcmp(argv[1], "letters") == 0)
		rc = letters(argv[2]);
	else if (argc == 3 && strcmp(argv[1], "mixed") == 0)
		rc = mixed(argv[2]);
	else if (argc == 4 && strcmp(argv[1], "csv") == 0)
		rc = from_csv(argv[2], argv[3]);
	else
		fprintf(stderr, "usage: gbdt_gen higgs|letters|mixed OUT | gbdt_gen csv IN OUT\n");
	if (rc != 0 && argc >= 3)
		fprintf(stderr, "gbdt_gen: cannot write the table\n");
	return rc == 0 ? 0 : 1;
}
