// Package syntax is the lexer, parser and abstract syntax tree of the
// CloudWatch Logs Insights query language (Logs Insights QL) as AWS documents
// it: commands separated by '|', an optional leading SOURCE, '#' comments,
// back-quoted field names, string, number, duration and /regex/ literals and
// the documented operator precedence.
//
// The parser checks the syntax of every command but not the names or arity
// of functions: that is the compiler's job, so that adding a function never
// touches the grammar. Every error is an *Error that points at the offending
// byte of the query, which is what MalformedQueryException's
// queryCompileError.location reports.
//
// Query.String prints a canonical form that parses back to an equal tree;
// Format uses it to normalise saved queries.
package syntax
