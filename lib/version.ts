/** ghcpw's version, reported by `ghcpw --version` and exchanged in the handshake. */
export const VERSION = "0.1.0";
