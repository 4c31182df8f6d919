/**
 * The Postgres role the API and refresh functions (and, locally, `npm start`
 * and the tests) connect as: it reads and writes the service's tables only.
 * Migration 0008 creates and grants it; the migrate function alone connects
 * as the owner. In a file of its own so infra/ can name it in the IAM policy.
 */
export const RUNTIME_DATABASE_ROLE = "securities_support_runtime";
