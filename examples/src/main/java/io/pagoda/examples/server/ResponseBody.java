package io.pagoda.examples.server;

/** The body both servers send: a configured number of bytes, 'a' to 'z' over and over. */
final class ResponseBody {

    private ResponseBody() {
    }

    /**
     * A body of {@code bytes} bytes.
     *
     * @throws IllegalArgumentException if {@code bytes} is negative
     */
    static byte[] of(int bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("body size must not be negative: " + bytes);
        }
        byte[] body = new byte[bytes];
        for (int i = 0; i < bytes; i++) {
            body[i] = (byte) ('a' + i % 26);
        }
        return body;
    }
}
