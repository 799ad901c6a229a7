/*
 * render.h: the control plane's big documents, the status document
 * (statusdoc.h) and the metrics (metrics.h), produced for one client a
 * slice at a time on the event loop: at the control priority, one slice
 * of at most RENDER_SLICE_USEC a turn, all renders together at most
 * RENDER_SHARE_PCT of the time, and only while the client has room for
 * more, so that neither a huge registry, nor many clients, nor a client
 * that does not read can hold the loop, saturate its CPU or grow its
 * memory. Shared by the control
 * socket and HTTP, which each give a sink.
 */
#ifndef VIGIL_RENDER_H
#define VIGIL_RENDER_H

#include <stddef.h>

struct evbuffer;
struct supervisor;

#define RENDER_SLICE_USEC 500    /* work per slice (a turn of the loop), at most about */
#define RENDER_CHUNK_MAX 65536   /* bytes a slice hands to its sink, at most about */
#define RENDER_SHARE_PCT 50      /* of the loop's time, at most, for all renders together */

enum render_kind { RENDER_STATUS, RENDER_METRICS };

/* Where a render's output goes. */
struct render_sink {
	/* Whether the client can take more now (its unsent output is below its cap). */
	int (*room)(void *arg);
	/*
	 * Take the next part (drain chunk); done: it was the last. After done
	 * the render is freed: the sink must forget it.
	 */
	void (*emit)(void *arg, struct evbuffer *chunk, int done);
	/* Memory ran out midway (part of it may be out): the render is freed, as after done. */
	void (*fail)(void *arg);
	void *arg;
	size_t http_connections; /* for the metrics: HTTP connections open when asked */
};

/* Begin a document of kind for sink (copied); NULL if out of memory. */
struct render *render_start(struct supervisor *sv, enum render_kind kind,
			    const struct render_sink *sink);

/* The sink has room again: go on at the next turn. */
void render_kick(struct render *r);

/* The client went away: stop and free r, never calling its sink again. */
void render_cancel(struct render *r);

#endif
