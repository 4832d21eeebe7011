/**
 * The instants the service takes: years 1 to 9999, what PostgreSQL, ClickHouse's parser and an
 * RFC 3339 string can all hold. JavaScript's Date reaches further (±275,760 years) and past it
 * gives Invalid Date; neither may reach a query.
 */
export const minDate = new Date("0001-01-01T00:00:00.000Z");
export const maxDate = new Date("9999-12-31T23:59:59.999Z");

export const inDateRange = (date: Date) => {
  const ms = date.getTime();
  return !Number.isNaN(ms) && ms >= minDate.getTime() && ms <= maxDate.getTime();
};
