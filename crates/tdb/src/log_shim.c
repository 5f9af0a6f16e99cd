/*
 * libtdb reports problems through a printf-style variadic callback, which
 * Rust cannot define. This shim is that callback: it formats the message
 * and hands the finished string to the Rust sink stored as the logging
 * context's private pointer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

struct tdb_context;
void *tdb_get_logging_private(struct tdb_context *tdb);

typedef void (*ctdb_tdb_log_sink)(int level, const char *msg);

void ctdb_tdb_log_shim(struct tdb_context *tdb, int level, const char *fmt, ...)
{
	char small[512];
	char *big = NULL;
	const char *msg = small;
	ctdb_tdb_log_sink sink = NULL;
	va_list ap, again;
	int n;

	if (tdb != NULL) {
		sink = (ctdb_tdb_log_sink)tdb_get_logging_private(tdb);
	}
	if (sink == NULL || fmt == NULL) {
		return;
	}

	va_start(ap, fmt);
	va_copy(again, ap);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		msg = fmt;
	} else if ((size_t)n >= sizeof(small)) {
		big = malloc((size_t)n + 1);
		if (big != NULL) {
			vsnprintf(big, (size_t)n + 1, fmt, again);
			msg = big;
		}
	}
	va_end(again);

	sink(level, msg);
	free(big);
}
