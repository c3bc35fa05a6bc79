/* What a protocol session learns about the listener that accepted it. */
#ifndef TERN_LISTENER_H
#define TERN_LISTENER_H

#include "config/config.h"

struct listener_ctx {
	const struct tern_config *cfg;
	enum service service;
};

#endif
