# A first GAP script for gaprun: a few facts about small symmetric groups.
for n in [3 .. 7] do
    G := SymmetricGroup(n);
    Print("S", n, ": order ", Size(G),
          ", conjugacy classes ", Length(ConjugacyClasses(G)),
          ", derived length ", DerivedLength(G), "\n");
od;
Print("SmallGroup(8,3) is ", StructureDescription(SmallGroup(8, 3)), "\n");
