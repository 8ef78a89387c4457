"""Network events: soirées-rencontres du Réaap, journée des porteurs de projet, rencontres des
référents CLAS (issue 4): events, registrations with a waitlist, the public agenda and its ICS feed."""
