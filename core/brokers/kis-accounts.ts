import type { FieldIssue } from "../errors";

/** KIS ACNT_PRDT_CD: 01 stock, 03 domestic futures/options, 08 overseas futures/options, 22 personal pension, 29 retirement pension. */
export const KIS_PRODUCT_CODES = ["01", "03", "08", "22", "29"] as const;

/**
 * KIS's rules on a securities_config beyond the shared shape: the account
 * number (CANO) is exactly 8 digits and the product code (ACNT_PRDT_CD),
 * which every KIS account call sends beside it, is required and known.
 */
export function kisSecuritiesConfigIssues(config: Readonly<Record<string, unknown>>): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const { account_number: number, product_code: product } = config;
  if (typeof number === "string" && !/^[0-9]{8}$/.test(number)) {
    issues.push({
      field: "securities_config.account_number",
      message: "must be exactly 8 digits for KIS",
    });
  }
  if (product === undefined) {
    issues.push({ field: "securities_config.product_code", message: "is required for KIS" });
  } else if (
    typeof product === "string" &&
    !(KIS_PRODUCT_CODES as readonly string[]).includes(product)
  ) {
    issues.push({
      field: "securities_config.product_code",
      message: `must be one of ${KIS_PRODUCT_CODES.join(", ")} for KIS`,
    });
  }
  return issues;
}
