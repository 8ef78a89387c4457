"""Network events: soirées-rencontres du Réaap, journée des porteurs de projet, rencontres des
référents CLAS (issue 4). Nothing here yet."""
