"""Two things CloudFront does with a failing origin and a private S3 origin that ministack did not.

1. An origin CloudFront cannot reach is a 502, one that does not answer in time a 504, and both
are answered with the distribution's custom error page for that code. AWS: "CloudFront ... doesn't
get a response from your origin server within a specified time, ... 504 status code (Gateway
Timeout)" is a server error custom error pages apply to, and an origin that does not respond "is
considered an HTTP 5xx error from the origin" (CloudFront Developer Guide, "Create a custom error
page for specific HTTP status codes", "How CloudFront processes HTTP 4xx and 5xx status codes from
your origin"). ministack 1.5.33 answered them with CloudFront's own error page, skipping the custom
one. The patch turns them into those responses before ministack looks for a custom page.

2. CloudFront's fetches from an S3 origin arrive over HTTPS when the viewer's request did.

AWS: for an S3 bucket (REST endpoint) origin, "CloudFront forwards requests to Amazon S3 by using
the protocol that viewers used to submit the requests" (CloudFront Developer Guide, "Require HTTPS
for communication between CloudFront and your Amazon S3 origin"). A bucket policy that denies
`aws:SecureTransport = false` therefore lets a distribution that redirects viewers to HTTPS read.

ministack 1.5.33: the data plane reads the viewer's protocol from X-Forwarded-Proto, but evaluates
the bucket policy of its in-process S3 fetch with the transport of the plain-HTTP connection to
ministack itself, so every such deny refused CloudFront.

The patch: while a viewer request that came over HTTPS is served, policy evaluations see a secure
transport.
"""

from ministack.core import iam_evaluator
from ministack.services import cloudfront

_handle_viewer_request = cloudfront.handle_viewer_request


async def handle_viewer_request(dist, method, path, raw_uri, raw_query_string, headers, body,
                                query_params, client_ip="127.0.0.1"):
    if headers.get("x-forwarded-proto", "http") != "https":
        return await _handle_viewer_request(dist, method, path, raw_uri, raw_query_string, headers,
                                            body, query_params, client_ip)
    token = iam_evaluator._request_origin.set((client_ip, True))
    try:
        return await _handle_viewer_request(dist, method, path, raw_uri, raw_query_string, headers,
                                            body, query_params, client_ip)
    finally:
        iam_evaluator._request_origin.reset(token)


cloudfront.handle_viewer_request = handle_viewer_request

_fetch_from_origin = cloudfront._fetch_from_origin


async def _fetch_from_origin_answering_failures(*args, **kwargs):
    try:
        return await _fetch_from_origin(*args, **kwargs)
    except cloudfront.OriginUnreachable:
        status = 502
    except cloudfront.OriginTimeout:
        status = 504
    status, header_pairs, body = cloudfront._cf_error_response(
        status, "The request could not be satisfied.", cloudfront._ERROR_X_CACHE)
    pairs = header_pairs.items() if isinstance(header_pairs, dict) else header_pairs
    return status, "", cloudfront._multidict_from_pairs(pairs), body


cloudfront._fetch_from_origin = _fetch_from_origin_answering_failures
