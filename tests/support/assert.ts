/**
 * Assertions for the suites: node:assert's strict comparisons under the names the tests use
 * (@std/assert lives on JSR, which these machines cannot reach).
 *
 * @module
 */

import { deepStrictEqual, match, ok, rejects, throws } from "node:assert/strict";

export {
  deepStrictEqual as assertEquals,
  match as assertMatch,
  ok as assert,
  rejects as assertRejects,
  throws as assertThrows,
};
