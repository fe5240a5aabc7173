/* Endpoint syntax, checked once for every place that takes one. */
#include "endpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "seam.h"

static int bad(const char *ep, const char *why)
{
    seam_error_set("endpoint '%s': %s", ep, why);
    return SEAM_ERR_INVALID;
}

int seam_endpoint_check(const char *ep, seam_endpoint_t *out)
{
    seam_endpoint_t e = {0};
    if (!ep || !*ep)
        return bad(ep ? ep : "", "empty; expected tcp://HOST:PORT or ipc://PATH");
    if (strlen(ep) >= sizeof e.host)
        return bad(ep, "longer than 255 characters");
    if (strncmp(ep, "ipc://", 6) == 0 || strncmp(ep, "inproc://", 9) == 0) {
        if (!ep[ep[0] == 'i' && ep[1] == 'p' ? 6 : 9])
            return bad(ep, "no path after the scheme");
        e.ipc = e.loopback = true;
    } else if (strncmp(ep, "tcp://", 6) == 0) {
        const char *h = ep + 6, *colon;
        if (*h == '[') { /* [IPv6]:PORT */
            const char *close = strchr(h, ']');
            if (!close || close[1] != ':')
                return bad(ep, "an IPv6 address is written in brackets: tcp://[::1]:PORT");
            snprintf(e.host, sizeof e.host, "%.*s", (int)(close - h - 1), h + 1);
            colon = close + 1;
        } else {
            colon = strrchr(h, ':');
            if (!colon)
                return bad(ep, "no port: expected tcp://HOST:PORT");
            snprintf(e.host, sizeof e.host, "%.*s", (int)(colon - h), h);
        }
        if (!e.host[0])
            return bad(ep, "no host: expected tcp://HOST:PORT (HOST may be * to listen everywhere)");
        if (strpbrk(e.host, " \t/[]") || (strchr(e.host, ':') && *h != '['))
            return bad(ep, "the host is not a name or an address (IPv6 goes in brackets)");
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (colon[1] == '\0' || *end != '\0')
            return bad(ep, "the port is not a number: expected tcp://HOST:PORT");
        if (port < 1 || port > 65535) {
            seam_error_set("endpoint '%s': port %ld is outside 1-65535", ep, port);
            return SEAM_ERR_INVALID;
        }
        e.port = (int)port;
        e.loopback = strncmp(e.host, "127.", 4) == 0 || strcmp(e.host, "localhost") == 0 ||
                     strcmp(e.host, "::1") == 0;
    } else if (strstr(ep, "://")) {
        return bad(ep, "unknown scheme; seam speaks tcp:// and ipc://");
    } else {
        return bad(ep, "no scheme: write tcp://HOST:PORT (or ipc://PATH)");
    }
    if (out)
        *out = e;
    return SEAM_OK;
}
