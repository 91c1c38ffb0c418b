// TEMPORARY, parser branch only: the skeleton's RequestHandler.swift names `HTTPExchange`, which
// the connection engine's branch defines. This stub exists so the parser branch builds and its
// tests run; delete this file when merging the engine (a duplicate-type error points here).
public final class HTTPExchange: Sendable {}
