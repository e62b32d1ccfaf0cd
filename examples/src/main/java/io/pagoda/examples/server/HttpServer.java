package io.pagoda.examples.server;

/** A running HTTP/1.1 server of the showdown, listening on a loopback port until closed. */
interface HttpServer extends AutoCloseable {

    /** The port it listens on (the one the system chose, when started on port 0). */
    int port();

    /**
     * Stops accepting, closes every connection and waits until the server's threads have ended,
     * so that every buffer the server allocated has been given back by the time it returns.
     * Closing again does nothing.
     */
    @Override
    void close();
}
