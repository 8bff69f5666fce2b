# Groups, sizes and values of several kinds.
G := SymmetricGroup(5);
Size(G);
Print("size ", Size(G), "\n");
H := AlternatingGroup(4);; Size(H);
IsSubgroup(G, Group((1,2,3)));
ConjugacyClasses(SymmetricGroup(4));
List([1..30], i -> i^2);
r := rec(a := 1, b := "x", c := [1, 2]);
2^100;
(1,2,3)*(2,3);
Z(5)^2; E(4)+1; 3/4;
"a string"; 'c'; true; fail;
