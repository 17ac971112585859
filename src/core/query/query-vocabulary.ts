/**
 * The words of the query language: which are reserved (usable as names only when escaped as
 * `[[word]]`), and which functions exist with how many arguments. Keywords and function names are
 * compared in upper case: the language reads them in any case.
 */
/**
 * Words that cannot name a collection or a property unless escaped as `[[word]]`: ADT's list of
 * reserved keywords (reference-query-reserved) plus the keywords of Twinloop's grammar that ADT
 * does not list. After a `.` (a property path) any word is read as a name.
 */
export const RESERVED_WORDS: ReadonlySet<string> = new Set([
  // ADT's reserved keywords
  'ALL',
  'AND',
  'AS',
  'ASC',
  'AVG',
  'BY',
  'COUNT',
  'DESC',
  'DEVICES_JOBS',
  'DEVICES_MODULES',
  'DEVICES',
  'ENDS_WITH',
  'FALSE',
  'FROM',
  'GROUP',
  'IN',
  'IS_BOOL',
  'IS_DEFINED',
  'IS_NULL',
  'IS_NUMBER',
  'IS_OBJECT',
  'IS_PRIMITIVE',
  'IS_STRING',
  'MAX',
  'MIN',
  'NOT',
  'NOT_IN',
  'NULL',
  'OR',
  'ORDER',
  'SELECT',
  'STARTS_WITH',
  'SUM',
  'TOP',
  'TRUE',
  'WHERE',
  'IS_OF_MODEL',
  // keywords of the grammar that ADT's list leaves out
  'JOIN',
  'RELATED',
  'MATCH',
  'NIN',
  'DIGITALTWINS',
  'RELATIONSHIPS',
]);

/** Function name -> allowed argument counts (IS_OF_MODEL is parsed on its own). */
export const FUNCTIONS: Record<string, readonly number[]> = {
  IS_DEFINED: [1],
  IS_NULL: [1],
  IS_BOOL: [1],
  IS_NUMBER: [1],
  IS_STRING: [1],
  IS_PRIMITIVE: [1],
  IS_OBJECT: [1],
  STARTSWITH: [2],
  ENDSWITH: [2],
  CONTAINS: [2],
  ARRAY_CONTAINS: [2],
};

/** Other spellings of a function (ADT's reserved-word list and its older docs spell these with '_'). */
export const FUNCTION_ALIASES: Record<string, string> = { STARTS_WITH: 'STARTSWITH', ENDS_WITH: 'ENDSWITH' };
