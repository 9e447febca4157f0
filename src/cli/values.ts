// The parsed options of a command line, as every CLI module reads them (a module of its own, so none of them has to
// import the connection code to name the type).
export type CliValues = Record<string, string | boolean | string[] | undefined>;
