package io.pagoda.examples.server;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;

/**
 * HTTP/1.1 as bytes, for the plain NIO server: what to answer a request's head, and each answer's
 * status line and headers, made once, then copied with the body into a buffer per response.
 */
final class RawHttp {

    /** The answers the server gives, and whether the connection stays open after each. */
    enum Answer {
        OK("200 OK", true),
        OK_THEN_CLOSE("200 OK", false),
        BAD_REQUEST("400 Bad Request", false),
        METHOD_NOT_ALLOWED("405 Method Not Allowed", false),
        HEAD_TOO_LARGE("431 Request Header Fields Too Large", false);

        private final String status;
        private final boolean keepAlive;

        Answer(String status, boolean keepAlive) {
            this.status = status;
            this.keepAlive = keepAlive;
        }

        boolean keepAlive() {
            return keepAlive;
        }

        boolean hasBody() {
            return this == OK || this == OK_THEN_CLOSE;
        }
    }

    private final byte[] body;
    private final Map<Answer, byte[]> heads = new EnumMap<>(Answer.class);

    RawHttp(byte[] body) {
        this.body = body;
        for (Answer answer : Answer.values()) {
            String head = "HTTP/1.1 " + answer.status + "\r\n"
                    + "content-type: application/octet-stream\r\n"
                    + "content-length: " + (answer.hasBody() ? body.length : 0) + "\r\n"
                    + (answer.keepAlive ? "" : "connection: close\r\n")
                    + "\r\n";
            heads.put(answer, head.getBytes(StandardCharsets.US_ASCII));
        }
    }

    /**
     * What to answer a request whose head (request line and headers, without the blank line that
     * ends them) is {@code head}: a GET over HTTP/1.1 keeps the connection unless a
     * {@code Connection} header says {@code close}; HTTP/1.0 closes it.
     */
    static Answer answer(String head) {
        String[] lines = head.split("\r\n");
        String[] requestLine = lines[0].split(" ");
        if (requestLine.length != 3 || !requestLine[2].startsWith("HTTP/1.")) {
            return Answer.BAD_REQUEST;
        }
        if (!requestLine[0].equals("GET")) {
            return Answer.METHOD_NOT_ALLOWED;
        }
        boolean keepAlive = requestLine[2].equals("HTTP/1.1");
        for (int i = 1; i < lines.length && keepAlive; i++) {
            int colon = lines[i].indexOf(':');
            keepAlive = colon < 0 || !lines[i].substring(0, colon).strip().equalsIgnoreCase("connection")
                    || !lines[i].substring(colon + 1).toLowerCase(Locale.ROOT).contains("close");
        }
        return keepAlive ? Answer.OK : Answer.OK_THEN_CLOSE;
    }

    /** A buffer from {@code buffers} holding the whole response, ready to write (flipped). */
    ByteBuffer write(Answer answer, RequestBuffers buffers) {
        byte[] head = heads.get(answer);
        int bodyBytes = answer.hasBody() ? body.length : 0;
        ByteBuffer response = buffers.allocate(head.length + bodyBytes);
        response.put(head).put(body, 0, bodyBytes);
        return response.flip();
    }
}
