# Equality of flags lists: `=` on two T_FLAGS objects goes through the
# kernel's comparison table, which GAP 4.12 fills in a step a restored
# workspace skips (issue 10 item 1).
flags := FLAGS_FILTER(IsPGroup and IsAbelian);;
f1 := SUB_FLAGS(flags, FLAGS_FILTER(IsAbelian));; f2 := FLAGS_FILTER(IsPGroup);;
Print(IS_EQUAL_FLAGS(f1, f2), " ", f1 = f2, "\n");
Print(FLAGS_FILTER(IsGroup) = FLAGS_FILTER(IsGroup), " ",
      FLAGS_FILTER(IsGroup) = FLAGS_FILTER(IsRing), " ",
      FLAGS_FILTER(IsGroup) <> FLAGS_FILTER(IsRing), " ",
      [FLAGS_FILTER(IsGroup)] = [FLAGS_FILTER(IsGroup)], " ",
      Position([EMPTY_FLAGS, f2], f1), "\n");
