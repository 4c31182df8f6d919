import { describe, expect, it } from "vitest";
import { wholeNumber } from "../../core/config";

describe("wholeNumber, the one rule of whole-number settings", () => {
  it("reads digits within the bounds", () => {
    expect(wholeNumber("0")).toBe(0);
    expect(wholeNumber("12", 1, 12)).toBe(12);
    expect(wholeNumber("65535", 0, 65535)).toBe(65535);
  });

  it("refuses signs, fractions, exponents, hex, blanks and numbers out of bounds", () => {
    for (const raw of ["-1", "1.5", "1e3", "0x10", "", " 1", "+1", "ten"]) {
      expect(wholeNumber(raw), raw).toBeUndefined();
    }
    expect(wholeNumber("0", 1)).toBeUndefined();
    expect(wholeNumber("13", 1, 12)).toBeUndefined();
  });

  it("refuses a number too large to hold exactly", () => {
    expect(wholeNumber("9007199254740991")).toBe(9007199254740991);
    expect(wholeNumber("9007199254740993")).toBeUndefined();
    expect(wholeNumber("99999999999999999999")).toBeUndefined();
  });
});
