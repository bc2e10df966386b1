/* How the gateway hands over a customer's file: as an attachment, never
 * rendered on its own origin. Pure functions: the media type a stored file
 * is sent with, and the Content-Disposition that names it. */
#ifndef GATEWAY_DOWNLOAD_H
#define GATEWAY_DOWNLOAD_H

/* The Content-Type a stored file is sent with: given (as stored, a media
 * type the notes service checked) unless it is one a browser would run or
 * render as a document (HTML, XHTML, SVG, XML, JavaScript, anything
 * "+xml"), or is not a plain printable media type of at most 127 bytes: then
 * "application/octet-stream". Returns given or a static string. */
const char *gateway_download_type(const char *given);

/* The Content-Disposition of a file called name (UTF-8): "attachment;
 * filename=\"...\"" with an ASCII fallback (every byte outside printable
 * ASCII, and '"', '\\', '%', ';', becomes '_'), and, when the name is not
 * plain ASCII, "; filename*=UTF-8''..." percent-encoded (RFC 6266, RFC
 * 8187). An empty name becomes "download". Returns a malloc'd string. */
char *gateway_content_disposition(const char *name);

#endif
