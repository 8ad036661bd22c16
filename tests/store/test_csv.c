/*
 * test_csv.c - the CSV parser on small inputs: syntax (quotes, newlines,
 * CRLF, BOM, blank lines), missing values, type inference and the
 * categorical override, every error code with its row, line and column,
 * and the delimiter option with the hints that name a likelier separator.
 * test_csv_tables.c covers the real tables, numbers and threads.
 */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/store/csv_check.h"

/* ---- syntax ---- */

START_TEST(basic_table)
{
	struct fit_frame *f = parse_str("a,b,c\n1,2.5,x\n-3,4e2,y\n");
	static const char *const lv[] = { "x", "y" };

	ck_assert_uint_eq(f->nrows, 2);
	ck_assert_uint_eq(f->ncols, 3);
	ck_assert_str_eq(f->cols[0].name, "a");
	ck_assert_int_eq(col(f, "a")->type, FIT_COL_NUMERIC);
	ck_assert(col(f, "a")->num[0] == 1.0 && col(f, "a")->num[1] == -3.0);
	ck_assert(col(f, "b")->num[0] == 2.5 && col(f, "b")->num[1] == 400.0);
	assert_levels(col(f, "c"), lv, 2);
	ck_assert_int_eq(col(f, "c")->cat[0], 0);
	ck_assert_int_eq(col(f, "c")->cat[1], 1);
	ck_assert_ptr_null(col(f, "a")->cat);
	ck_assert_ptr_null(col(f, "c")->num);
	ck_assert_int_eq(fit_frame_find(f, "nope"), -1);
	fit_frame_free(f);
}
END_TEST

START_TEST(quoted_fields)
{
	static const char csv[] = "name,v\n"
				  "\"a,b\",1\n"
				  "\"say \"\"hi\"\"\",2\n"
				  "\"multi\nline\",3\n"
				  "\"\",4\n"
				  "plain,\"5\"\n";
	static const char *const lv[] = { "a,b", "multi\nline", "plain", "say \"hi\"" };
	struct fit_frame *f = parse_str(csv);
	const struct fit_column *name = col(f, "name"), *v = col(f, "v");

	ck_assert_uint_eq(f->nrows, 5);
	assert_levels(name, lv, 4);
	ck_assert_str_eq(cat_at(name, 0), "a,b");
	ck_assert_str_eq(cat_at(name, 1), "say \"hi\"");
	ck_assert_str_eq(cat_at(name, 2), "multi\nline");
	ck_assert_ptr_null(cat_at(name, 3)); /* "" is an empty field: missing */
	ck_assert_str_eq(cat_at(name, 4), "plain");
	ck_assert_uint_eq(name->missing, 1);
	ck_assert_int_eq(v->type, FIT_COL_NUMERIC); /* a quoted number is a number */
	ck_assert(v->num[4] == 5.0);
	fit_frame_free(f);
}
END_TEST

START_TEST(quoted_header)
{
	struct fit_frame *f = parse_str("\"x, y\",\"he said \"\"z\"\"\",\"two\nlines\"\n1,2,3\n");

	ck_assert_str_eq(f->cols[0].name, "x, y");
	ck_assert_str_eq(f->cols[1].name, "he said \"z\"");
	ck_assert_str_eq(f->cols[2].name, "two\nlines");
	ck_assert_uint_eq(f->nrows, 1);
	fit_frame_free(f);
}
END_TEST

START_TEST(line_endings)
{
	static const char *const inputs[] = {
		"a,b\r\n1,x\r\n2,y\r\n",
		"a,b\n1,x\n2,y\n",
		"a,b\r\n1,x\n2,y",		     /* mixed, no final newline */
		"a,b\n1,x\n2,y\n\n\n",		     /* trailing empty lines */
		"\n\na,b\n\n1,x\r\n\r\n2,y\r\n\r\n", /* blank lines anywhere */
		"a,b\n1,x\n2,y\r",		     /* a CR that ends the input */
	};

	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		struct fit_frame *f = parse_str(inputs[i]);

		ck_assert_uint_eq(f->nrows, 2);
		ck_assert(col(f, "a")->num[1] == 2.0);
		ck_assert_str_eq(cat_at(col(f, "b"), 1), "y");
		ck_assert_uint_eq(col(f, "b")->nlevels, 2);
		fit_frame_free(f);
	}
}
END_TEST

START_TEST(crlf_inside_quotes_is_kept)
{
	struct fit_frame *f = parse_str("t\r\n\"a\r\nb\"\r\n");

	ck_assert_str_eq(cat_at(col(f, "t"), 0), "a\r\nb");
	fit_frame_free(f);
}
END_TEST

START_TEST(bom_is_skipped)
{
	struct fit_frame *f = parse_str("\xef\xbb\xbf"
					"id,v\n1,2\n");

	ck_assert_str_eq(f->cols[0].name, "id");
	ck_assert(col(f, "id")->num[0] == 1.0);
	fit_frame_free(f);
}
END_TEST

START_TEST(utf8_values)
{
	struct fit_frame *f = parse_str("city,n\nZ\xc3\xbcrich,1\n\xe6\x9d\xb1\xe4\xba\xac,2\n"
					"\xf0\x9f\x98\x80,3\n");
	const struct fit_column *c = col(f, "city");

	ck_assert_uint_eq(c->nlevels, 3);
	/* byte order: 'Z' (0x5a) < 0xe6 < 0xf0 */
	ck_assert_str_eq(c->levels[0], "Z\xc3\xbcrich");
	ck_assert_str_eq(c->levels[1], "\xe6\x9d\xb1\xe4\xba\xac");
	ck_assert_str_eq(c->levels[2], "\xf0\x9f\x98\x80");
	fit_frame_free(f);
}
END_TEST

/* ---- missing values and types ---- */

START_TEST(missing_tokens)
{
	static const char csv[] = "x,s\n"
				  "1,a\n"
				  ",\n"
				  "NA,NA\n"
				  "?,?\n"
				  "NaN,NaN\n"
				  "nan,nan\n"
				  "N/A,N/A\n"
				  "n/a,n/a\n"
				  "#N/A,#N/A\n"
				  "null,null\n"
				  "NULL,NULL\n"
				  " NA ,\" \"\n"
				  "2,None\n";
	struct fit_frame *f = parse_str(csv);
	const struct fit_column *x = col(f, "x"), *s = col(f, "s");
	static const char *const lv[] = { "None", "a" };

	ck_assert_uint_eq(f->nrows, 13);
	ck_assert_int_eq(x->type, FIT_COL_NUMERIC);
	ck_assert_uint_eq(x->missing, 11);
	ck_assert(x->num[0] == 1.0 && x->num[12] == 2.0);
	for (size_t r = 1; r < 12; r++)
		ck_assert(isnan(x->num[r]));
	assert_levels(s, lv, 2);
	ck_assert_uint_eq(s->missing, 11);
	ck_assert_str_eq(cat_at(s, 12), "None");
	fit_frame_free(f);
}
END_TEST

START_TEST(all_missing_column_is_numeric)
{
	struct fit_frame *f = parse_str("a,b\n1,\n2,NA\n");

	ck_assert_int_eq(col(f, "b")->type, FIT_COL_NUMERIC);
	ck_assert_uint_eq(col(f, "b")->missing, 2);
	fit_frame_free(f);
}
END_TEST

START_TEST(number_syntax)
{
	static const struct {
		const char *text;
		double value;
	} good[] = {
		{ "0", 0 },
		{ "-0", -0.0 },
		{ "+7", 7 },
		{ "007", 7 },
		{ ".5", 0.5 },
		{ "5.", 5 },
		{ "1e3", 1000 },
		{ "1E-2", 0.01 },
		{ "-2.5e+1", -25 },
		{ " 3 ", 3 },
		{ "\t4\t", 4 },
		{ "1e-400", 0 },
		{ "123456789012345678901234567890", 123456789012345678901234567890.0 },
	};
	static const char *const bad[] = { "1e",	"e5",	 "-",	  ".",	 "0x10", "inf",
					   "-Infinity", "1.2.3", "1e999", "1 2", "--1",	 "1,5" };
	char csv[128];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct fit_frame *f;

		snprintf(csv, sizeof(csv), "v\n\"%s\"\n%s\n", good[i].text, good[i].text);
		f = parse_str(csv);
		ck_assert_msg(f->cols[0].type == FIT_COL_NUMERIC, "%s", good[i].text);
		ck_assert_msg(f->cols[0].num[0] == good[i].value, "%s", good[i].text);
		ck_assert(signbit(f->cols[0].num[1]) == signbit(good[i].value));
		fit_frame_free(f);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fit_frame *f;

		snprintf(csv, sizeof(csv), "v\n1\n\"%s\"\n", bad[i]);
		f = parse_str(csv);
		ck_assert_msg(f->cols[0].type == FIT_COL_CATEGORICAL, "%s", bad[i]);
		ck_assert_str_eq(cat_at(&f->cols[0], 1), bad[i]);
		ck_assert_str_eq(cat_at(&f->cols[0], 0), "1");
		fit_frame_free(f);
	}
}
END_TEST

START_TEST(inference_per_column)
{
	struct fit_frame *f = parse_str("n,mixed,t\n1,1,a\n2,x,b\n3,3,a\n");
	static const char *const lv[] = { "1", "3", "x" };
	static const char *const tl[] = { "a", "b" };

	ck_assert_int_eq(col(f, "n")->type, FIT_COL_NUMERIC);
	assert_levels(col(f, "mixed"), lv, 3);
	ck_assert_str_eq(cat_at(col(f, "mixed"), 2), "3");
	assert_levels(col(f, "t"), tl, 2);
	fit_frame_free(f);
}
END_TEST

START_TEST(categorical_override)
{
	static const char *const names[] = { "zip", "absent" };
	struct store_csv_options o = { .categorical = names, .ncategorical = 2 };
	static const char csv[] = "zip,x\n9,1\n10,2\nNA,3\n9,4\n";
	static const char *const lv[] = { "10", "9" };
	struct fit_frame *f = parse_ok(csv, strlen(csv), &o);
	const struct fit_column *z = col(f, "zip");

	assert_levels(z, lv, 2); /* byte order, not numeric order */
	ck_assert_int_eq(z->cat[0], 1);
	ck_assert_int_eq(z->cat[1], 0);
	ck_assert_int_eq(z->cat[2], -1);
	ck_assert_uint_eq(z->missing, 1);
	ck_assert_int_eq(col(f, "x")->type, FIT_COL_NUMERIC);
	fit_frame_free(f);
}
END_TEST

/* ---- delimiters ---- */

/* Parses csv with delimiter d, failing the test unless it succeeds. */
static struct fit_frame *parse_delim(const char *csv, char d)
{
	struct store_csv_options o = { .delimiter = d };

	return parse_ok(csv, strlen(csv), &o);
}

static void expect_error_delim(const char *csv, char d, int status, const char *code,
			       const char *const *needles)
{
	struct store_csv_options o = { .delimiter = d };

	expect_error_opt(csv, strlen(csv), &o, status, code, needles);
}

START_TEST(each_delimiter_reads_the_same_table)
{
	static const char *const lv[] = { "x", "y" };
	static const char delims[] = { ',', ';', '\t', '|' };
	char csv[128];

	for (size_t i = 0; i < sizeof(delims); i++) {
		char d = delims[i];
		struct fit_frame *f;

		snprintf(csv, sizeof(csv), "a%cb%cc\n1%c2.5%cx\n-3%c4e2%cy\n", d, d, d, d, d, d);
		f = parse_delim(csv, d);
		ck_assert_uint_eq(f->nrows, 2);
		ck_assert_uint_eq(f->ncols, 3);
		ck_assert_str_eq(f->cols[2].name, "c");
		ck_assert(col(f, "a")->num[0] == 1.0 && col(f, "a")->num[1] == -3.0);
		ck_assert(col(f, "b")->num[0] == 2.5 && col(f, "b")->num[1] == 400.0);
		assert_levels(col(f, "c"), lv, 2);
		fit_frame_free(f);
	}
	/* 0 is the comma. */
	fit_frame_free(parse_delim("a,b\n1,2\n", 0));
}
END_TEST

START_TEST(other_separators_are_ordinary_bytes)
{
	static const char *const lv[] = { "1,5", "2,25" };
	struct fit_frame *f = parse_delim("v;w|x\n1,5;\"q;r\"\n2,25;s\n", ';');

	/* Decimal commas are text: only '.' makes a number. */
	assert_levels(col(f, "v"), lv, 2);
	ck_assert_str_eq(cat_at(col(f, "w|x"), 0), "q;r");
	fit_frame_free(f);
	f = parse_delim("a|b\n\"x|y\"|\"2\"\n", '|');
	ck_assert_str_eq(cat_at(col(f, "a"), 0), "x|y");
	ck_assert(col(f, "b")->num[0] == 2.0);
	fit_frame_free(f);
}
END_TEST

START_TEST(tab_is_a_separator_not_a_blank)
{
	/* Empty fields between tabs are missing values, spaces around numbers still trimmed. */
	struct fit_frame *f = parse_delim("a\tb\tc\n1\t\t3\n 4 \t5\t\n\t\t\n", '\t');
	const struct fit_column *a = col(f, "a"), *b = col(f, "b"), *c = col(f, "c");

	ck_assert_uint_eq(f->nrows, 3);
	ck_assert(a->num[0] == 1.0 && a->num[1] == 4.0 && isnan(a->num[2]));
	ck_assert(isnan(b->num[0]) && b->num[1] == 5.0 && isnan(b->num[2]));
	ck_assert(c->num[0] == 3.0 && isnan(c->num[1]) && isnan(c->num[2]));
	fit_frame_free(f);
	/* Rows far from the end take the fast path of numbers: the same. */
	f = parse_delim("a\tb\tc\n1.25\t\t7\n1.25\t\t7\n1.25\t\t7\n1.25\t\t7\n1.25\t\t7\n"
			"1.25\t\t7\n1.25\t\t7\n1.25\t\t7\n1.25\t\t7\n1.25\t\t7\n",
			'\t');
	ck_assert_uint_eq(f->nrows, 10);
	for (size_t r = 0; r < 10; r++)
		ck_assert(col(f, "a")->num[r] == 1.25 && isnan(col(f, "b")->num[r]) &&
			  col(f, "c")->num[r] == 7.0);
	fit_frame_free(f);
	expect_error_delim("a\tb\n1\t2\t\n", '\t', FITD_EFORMAT, "ragged_row",
			   NEEDLES("row 1", "3 fields"));
}
END_TEST

START_TEST(delimiter_errors_name_it)
{
	expect_error_delim("a;b\n1;\"x\"y\n", ';', FITD_EFORMAT, "bad_quote",
			   NEEDLES("row 1 (line 2)", "column 2 ('b')", "';'"));
	expect_error_delim("a\tb\n1\t\"x\" \n", '\t', FITD_EFORMAT, "bad_quote", NEEDLES("tab"));
	expect_error_delim("a,b\n1,2\n", '"', FITD_EINVAL, "invalid_delimiter", NULL);
	expect_error_delim("a,b\n1,2\n", ' ', FITD_EINVAL, "invalid_delimiter", NULL);
	expect_error_delim("a,b\n1,2\n", '\n', FITD_EINVAL, "invalid_delimiter", NULL);
}
END_TEST

START_TEST(delimiter_names)
{
	static const struct {
		const char *text;
		char d;
	} names[] = { { ",", ',' },   { "comma", ',' }, { ";", ';' },	{ "semicolon", ';' },
		      { "\t", '\t' }, { "tab", '\t' },	{ "|", '|' },	{ "pipe", '|' },
		      { "", 0 },      { "Tab", 0 },	{ " ", 0 },	{ "\"", 0 },
		      { ",;", 0 },    { "\\t", 0 },	{ "colon", 0 }, { ":", 0 } };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		ck_assert_msg(store_csv_delimiter_parse(names[i].text) == names[i].d, "'%s'",
			      names[i].text);
		if (names[i].d != 0)
			ck_assert_int_eq(
			    store_csv_delimiter_parse(store_csv_delimiter_name(names[i].d)),
			    names[i].d);
	}
	ck_assert_ptr_null(store_csv_delimiter_name(':'));
	ck_assert_str_eq(store_csv_delimiter_name('\t'), "tab");
}
END_TEST

START_TEST(first_row_ragged_names_the_headers_separator)
{
	struct store_csv_options api = { .delimiter_param = "?delimiter=" };
	/* A semicolon file whose last header name holds a comma, read with commas. */
	static const char semi[] = "name;price;notes, misc\napple;1,5;fresh, red\n";

	expect_error_opt(
	    semi, strlen(semi), &api, FITD_EFORMAT, "ragged_row",
	    NEEDLES("row 1 (line 2)", "3 fields", "2 columns", "';'", "pass ?delimiter=semicolon"));
	/* A caller that takes no delimiter: the hint says to write the file with its own. */
	expect_error(semi, FITD_EFORMAT, "ragged_row",
		     NEEDLES("';'", "write the file with ',' (comma) instead"));
	/* Quoted names after another separator: the header's own quote error says it. */
	expect_error_opt("\"a\";\"b\"\n1;2\n", 12, &api, FITD_EFORMAT, "bad_quote",
			 NEEDLES("header (line 1)", "?delimiter=semicolon"));
	/* A later row, or a header without another separator: no guess. */
	{
		struct fitd_error err = { 0 };
		struct fit_frame *f = NULL;

		ck_assert_int_eq(store_csv_parse("a;b,c\n1,2\n2,3,4\n", 16, &api, &f, &err),
				 FITD_EFORMAT);
		ck_assert_msg(strstr(err.message, "row 2") != NULL &&
				  strstr(err.message, "delimiter") == NULL,
			      "%s", err.message);
		ck_assert_int_eq(store_csv_parse("a,b\n1,2,3\n", 10, &api, &f, &err), FITD_EFORMAT);
		ck_assert_msg(strstr(err.message, "delimiter") == NULL, "%s", err.message);
	}
}
END_TEST

START_TEST(one_column_header_holding_a_separator)
{
	struct store_csv_options api = { .delimiter_param = "?delimiter=" };
	static const char tsv[] = "a\tb\ty\n1\t2\t3\n";
	static const char semi[] = "a;b;c\n1,5;2;3\n";

	/* A tab- or semicolon-separated file read with commas: one column whose name holds it. */
	expect_error_opt(tsv, strlen(tsv), &api, FITD_EFORMAT, "wrong_delimiter",
			 NEEDLES("header (line 1)", "tab", "?delimiter=tab"));
	expect_error_opt(semi, strlen(semi), &api, FITD_EFORMAT, "wrong_delimiter",
			 NEEDLES("';'", "?delimiter=semicolon"));
	expect_error_delim("a,b\n1,2\n", '|', FITD_EFORMAT, "wrong_delimiter",
			   NEEDLES("holds ','", "'|' (pipe)"));
	/* The separator the name holds most is named. */
	expect_error_opt("a;b;c|d\n1\n", 10, &api, FITD_EFORMAT, "wrong_delimiter",
			 NEEDLES("?delimiter=semicolon"));
	/* Quoted, the name is meant: kept whole. */
	{
		struct fit_frame *f = parse_str("\"a;b\"\n1\n");

		ck_assert_str_eq(f->cols[0].name, "a;b");
		fit_frame_free(f);
	}
	/* Two columns, or one without another separator: as before. */
	fit_frame_free(parse_str("a;b,c\n1,2\n"));
	fit_frame_free(parse_str("a b\n1\n"));
}
END_TEST

/* ---- errors ---- */

START_TEST(error_empty_body)
{
	expect_error("", FITD_EFORMAT, "empty_body", NULL);
	expect_error("\n\r\n\n", FITD_EFORMAT, "empty_body", NULL);
	expect_error("\xef\xbb\xbf", FITD_EFORMAT, "empty_body", NULL);
	expect_error_opt(NULL, 0, NULL, FITD_EFORMAT, "empty_body", NULL);
}
END_TEST

START_TEST(error_no_rows)
{
	expect_error("a,b\n", FITD_EUNPROCESSABLE, "no_rows", NULL);
	expect_error("a,b", FITD_EUNPROCESSABLE, "no_rows", NULL);
	expect_error("a,b\r\n\r\n\n", FITD_EUNPROCESSABLE, "no_rows", NULL);
}
END_TEST

START_TEST(error_ragged_row)
{
	expect_error(
	    "a,b,c\n1,2,3\n4,5\n", FITD_EFORMAT, "ragged_row",
	    NEEDLES("row 2 (line 3)", "2 fields", "3 columns", "column 3 ('c') is missing"));
	expect_error("a,b\n1,2\n\n3,4,5,6\n", FITD_EFORMAT, "ragged_row",
		     NEEDLES("row 2 (line 4)", "4 fields", "2 columns", "column 3 is not in"));
	expect_error("a,b\n\"x\ny\"\n", FITD_EFORMAT, "ragged_row", NEEDLES("row 1 (line 3)"));
}
END_TEST

START_TEST(error_names_cut_whole)
{
	/* The message quotes 40 bytes of a name: a character across the cut is left out. */
	expect_error("b,aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xc3\xa9\n1,2\n1\n", FITD_EFORMAT,
		     "ragged_row",
		     NEEDLES("column 2 ('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa') is missing"));
}
END_TEST

START_TEST(error_unterminated_quote)
{
	expect_error("a,b\n1,2\n3,\"oops\n4,5\n", FITD_EFORMAT, "unterminated_quote",
		     NEEDLES("row 2 (line 3)", "column 2 ('b')"));
	expect_error("a,\"b\n1,2\n", FITD_EFORMAT, "unterminated_quote",
		     NEEDLES("header (line 1)", "column 2"));
}
END_TEST

START_TEST(error_bad_quote)
{
	expect_error("a,b\n1,2\n3,\"x\"y\n", FITD_EFORMAT, "bad_quote",
		     NEEDLES("row 2 (line 3)", "column 2 ('b')", "closing quote"));
	expect_error("a,b\n1,2\n3,4\n5,ab\"c\n", FITD_EFORMAT, "bad_quote",
		     NEEDLES("row 3 (line 4)", "column 2 ('b')", "unquoted"));
	expect_error("a,b\"\n1,2\n", FITD_EFORMAT, "bad_quote", NEEDLES("header (line 1)"));
}
END_TEST

START_TEST(error_nul_byte)
{
	static const char csv[] = "a,b\n1,2\n3,x\0y\n";

	expect_error_opt(csv, sizeof(csv) - 1, NULL, FITD_EFORMAT, "nul_byte",
			 NEEDLES("row 2 (line 3)", "column 2 ('b')", "offset 11"));
}
END_TEST

START_TEST(error_invalid_utf8)
{
	static const char *const bad[] = {
		"\xc0\x80",	    /* overlong NUL */
		"\xe0\x80\xaf",	    /* overlong slash */
		"\xed\xa0\x80",	    /* surrogate */
		"\xf4\x90\x80\x80", /* above U+10FFFF */
		"\xf5\x80\x80\x80", /* never a lead byte */
		"\x80",		    /* lone continuation */
		"\xc3",		    /* truncated at the end of the field */
		"\xe2\x82",	    /* truncated */
		"\xff",
	};
	char csv[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(csv, sizeof(csv), "a,b,c\n1,2,3\n4,5,6\n7,x%s,9\n", bad[i]);
		expect_error(csv, FITD_EFORMAT, "invalid_utf8",
			     NEEDLES("row 3 (line 4)", "column 2 ('b')", "offset 21"));
	}
	expect_error("a,b\xff\n1,2\n", FITD_EFORMAT, "invalid_utf8",
		     NEEDLES("header (line 1)", "column 2"));
}
END_TEST

START_TEST(error_header_names)
{
	expect_error("a,b,a\n1,2,3\n", FITD_EUNPROCESSABLE, "duplicate_column",
		     NEEDLES("column 3", "'a'", "column 1"));
	expect_error("x,y,y,x\n1,2,3,4\n", FITD_EUNPROCESSABLE, "duplicate_column",
		     NEEDLES("column 3", "'y'", "column 2"));
	expect_error("a,,c\n1,2,3\n", FITD_EUNPROCESSABLE, "empty_column_name",
		     NEEDLES("column 2"));
	expect_error("a,\"\"\n1,2\n", FITD_EUNPROCESSABLE, "empty_column_name",
		     NEEDLES("column 2"));
}
END_TEST

START_TEST(error_limits)
{
	struct store_csv_options cols = { .max_columns = 2 };
	struct store_csv_options field = { .max_field_bytes = 4 };
	struct store_csv_options rows = { .max_rows = 2 };
	static const char three[] = "a,b,c\n1,2,3\n";
	static const char longf[] = "a,b\n1,2\n3,12345\n";
	static const char longq[] = "a,b\n1,\"abcde\"\n";
	static const char many[] = "a\n1\n2\n\n3\n4\n";

	expect_error_opt(three, strlen(three), &cols, FITD_EUNPROCESSABLE, "too_many_columns",
			 NEEDLES("3 columns", "limit of 2"));
	expect_error_opt(longf, strlen(longf), &field, FITD_EUNPROCESSABLE, "field_too_long",
			 NEEDLES("row 2 (line 3)", "column 2 ('b')", "4 bytes"));
	expect_error_opt(longq, strlen(longq), &field, FITD_EUNPROCESSABLE, "field_too_long",
			 NEEDLES("row 1 (line 2)", "column 2 ('b')"));
	expect_error_opt(many, strlen(many), &rows, FITD_EUNPROCESSABLE, "too_many_rows",
			 NEEDLES("more than 2 rows", "row 3", "line 5"));
	/* exactly at the limits is fine */
	cols.max_columns = 3;
	rows.max_rows = 4;
	field.max_field_bytes = 5;
	fit_frame_free(parse_ok(three, strlen(three), &cols));
	fit_frame_free(parse_ok(many, strlen(many), &rows));
	fit_frame_free(parse_ok(longf, strlen(longf), &field));
	fit_frame_free(parse_ok(longq, strlen(longq), &field));
}
END_TEST

START_TEST(first_error_wins)
{
	/* bad UTF-8 in row 1 comes before the ragged row 2 */
	expect_error("a,b\n1,\xff\n1\n", FITD_EFORMAT, "invalid_utf8", NEEDLES("row 1"));
	/* the ragged row comes before the NUL */
	expect_error_opt("a,b\n1\n2,\0\n", 10, NULL, FITD_EFORMAT, "ragged_row", NEEDLES("row 1"));
}
END_TEST

START_TEST(parse_file)
{
	char path[] = "/tmp/fitd-csv-XXXXXX";
	int fd = mkstemp(path);
	struct fitd_error err = { 0 };
	struct fit_frame *f = NULL;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(store_csv_parse_file(path, NULL, &f, &err), FITD_EFORMAT);
	ck_assert_str_eq(err.code, "empty_body");
	ck_assert_int_eq(write(fd, "a,b\n1,x\n", 8), 8);
	close(fd);
	ck_assert_int_eq(store_csv_parse_file(path, NULL, &f, &err), FITD_OK);
	ck_assert_uint_eq(f->nrows, 1);
	fit_frame_free(f);
	unlink(path);
	ck_assert_int_eq(store_csv_parse_file(path, NULL, &f, &err), FITD_ENOTFOUND);
	ck_assert_ptr_null(f);
}
END_TEST

static Suite *csv_suite(void)
{
	Suite *s = suite_create("csv");
	TCase *syn = tcase_create("syntax"), *typ = tcase_create("types");
	TCase *err = tcase_create("errors"), *del = tcase_create("delimiters");

	tcase_add_test(syn, basic_table);
	tcase_add_test(syn, quoted_fields);
	tcase_add_test(syn, quoted_header);
	tcase_add_test(syn, line_endings);
	tcase_add_test(syn, crlf_inside_quotes_is_kept);
	tcase_add_test(syn, bom_is_skipped);
	tcase_add_test(syn, utf8_values);
	tcase_add_test(typ, missing_tokens);
	tcase_add_test(typ, all_missing_column_is_numeric);
	tcase_add_test(typ, number_syntax);
	tcase_add_test(typ, inference_per_column);
	tcase_add_test(typ, categorical_override);
	tcase_add_test(err, error_empty_body);
	tcase_add_test(err, error_no_rows);
	tcase_add_test(err, error_ragged_row);
	tcase_add_test(err, error_names_cut_whole);
	tcase_add_test(err, error_unterminated_quote);
	tcase_add_test(err, error_bad_quote);
	tcase_add_test(err, error_nul_byte);
	tcase_add_test(err, error_invalid_utf8);
	tcase_add_test(err, error_header_names);
	tcase_add_test(err, error_limits);
	tcase_add_test(err, first_error_wins);
	tcase_add_test(err, parse_file);
	suite_add_tcase(s, syn);
	suite_add_tcase(s, typ);
	tcase_add_test(del, each_delimiter_reads_the_same_table);
	tcase_add_test(del, other_separators_are_ordinary_bytes);
	tcase_add_test(del, tab_is_a_separator_not_a_blank);
	tcase_add_test(del, delimiter_errors_name_it);
	tcase_add_test(del, delimiter_names);
	tcase_add_test(del, first_row_ragged_names_the_headers_separator);
	tcase_add_test(del, one_column_header_holding_a_separator);
	suite_add_tcase(s, err);
	suite_add_tcase(s, del);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(csv_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
